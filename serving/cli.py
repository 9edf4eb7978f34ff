"""The ``memberscore`` command: the edge where files, MLflow and the service are wired together."""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Value loyalty members from their purchases.")
F = TypeVar("F", bound=Callable[..., Any])

TransactionsOption = Annotated[Path, typer.Option("--transactions", help="CSV or Parquet transactions")]
MappingOption = Annotated[Path | None, typer.Option("--mapping", help="YAML column mapping onto the contract")]
RejectsOption = Annotated[Path | None, typer.Option("--rejects", help="where rejected rows go (CSV)")]


class NotReady(Exception):
    """A step the command needs has not happened yet (e.g. no champion model)."""


def one_line_errors(command: F) -> F:
    """Turn expected failures into one line on stderr and exit code 2, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (ValueError, FileNotFoundError, NotReady) as error:
            typer.echo(f"error: {error}".splitlines()[0], err=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


class Progress:
    """Prints each long step with the time since the command started."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        typer.echo(f"[{time.perf_counter() - self.started:6.1f}s] {message}", err=True)


def _load(transactions: Path, mapping: Path | None, rejects: Path | None, progress: Progress) -> tuple[Any, Any]:
    from features.contract import read_mapping
    from features.load import load_transactions

    progress(f"loading {transactions}")
    frame, report = load_transactions(transactions, read_mapping(mapping), rejects_path=rejects)
    progress(report.summary() + (f"; rejected rows in {report.rejects_path}" if report.rejects_path else ""))
    if frame.empty:
        raise ValueError(f"{transactions}: no usable rows ({report.summary()})")
    return frame, report


def _end_of_data(frame: Any) -> date:
    """The day after the last transaction: a snapshot as of it sees every row."""
    from features import contract

    return frame[contract.TS].max().date() + timedelta(days=1)


@app.command()
@one_line_errors
def train(
    transactions: TransactionsOption,
    mapping: MappingOption = None,
    horizon_days: Annotated[int | None, typer.Option(help="label horizon H in days (default 90)")] = None,
    config: Annotated[Path | None, typer.Option(help="TrainConfig YAML")] = None,
    report: Annotated[Path | None, typer.Option(help="write the JSON report here (and the HTML page beside it)")] = None,
    rejects: RejectsOption = None,
    skip_if_champion: Annotated[bool, typer.Option(help="do nothing when a churn champion and a snapshot exist")] = False,
) -> None:
    """Train every model the data allows on rolling cut-offs, log each to MLflow, promote the winners."""
    from features.store import default_snapshot_dir, latest_snapshot_path
    from serving.artefacts import import_champions
    from training import registry
    from training.config import read_config
    from training.pipeline import train_tasks
    from training.report_page import render_report_page
    from training.spark_training import tasks_for_engine
    from training.tasks import all_tasks

    progress = Progress()
    registry.configure_tracking()
    champion = registry.alias_version("churn", registry.CHAMPION)
    if skip_if_champion and champion and latest_snapshot_path(default_snapshot_dir()):
        import_champions()
        typer.echo(f"champion {registry.model_name('churn')} v{champion} exists; training skipped")
        return
    train_config = read_config(config, horizon_days=horizon_days)
    frame, load_report = _load(transactions, mapping, rejects, progress)
    pages: list[str] = []

    def page(run: Any, figures: dict[str, Any]) -> str:
        pages.append(render_report_page(_report(run, load_report), figures))
        return pages[-1]

    run = train_tasks(frame, train_config, tasks_for_engine(all_tasks()), load_report.to_dict(), progress, page)
    _, snapshot_path = _store_snapshot(frame, _end_of_data(frame))
    progress(f"snapshot written to {snapshot_path}")
    for task, model in import_champions().items():
        progress(f"{task}: champion in the BentoML store as {model.tag}")
    if report is not None:
        report.write_text(json.dumps(_report(run, load_report), indent=2))
        if pages:
            report.with_suffix(".html").write_text(pages[-1], encoding="utf-8")
    typer.echo(_train_summary(run))


def _report(run: Any, load_report: Any) -> dict[str, Any]:
    """The JSON report: every task's out-of-time metrics beside its baselines, and the load report.

    The churn task's fields are also at the top level, as the foundation's report had them.
    """
    tasks = run.report()
    churn = tasks["tasks"].get("churn", {})
    return {**churn, **tasks, "load": load_report.to_dict()}


def _train_summary(run: Any) -> str:
    lines = []
    for result in run.results:
        lines.append(f"{result.task}: run {result.run_id}, v{result.version}, evaluated at {result.plan.evaluation} "
                     f"on {result.members['evaluation_members']:,} members")
        for scorer, metrics in result.out_of_time.items():
            shown = "  ".join(f"{name} {value:.4f}" for name, value in metrics.items() if name not in ("n", "base_rate"))
            lines.append(f"  {scorer:<22} {shown}")
        lines.append(f"  {result.decision.reason}")
    lines.extend(f"{task}: skipped ({why})" for task, why in run.skipped.items())
    return "\n".join(lines)


@app.command()
@one_line_errors
def snapshot(
    transactions: TransactionsOption,
    mapping: MappingOption = None,
    as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: the day after the last row)")] = None,
    rejects: RejectsOption = None,
) -> None:
    """Write every member's features as of a date into the snapshot store (no retraining).

    Tiers keep the downgrade grace: the newest older snapshot in the store gives last period's tiers.
    """
    progress = Progress()
    frame, _ = _load(transactions, mapping, rejects, progress)
    cutoff = _parse_date(as_of) if as_of else _end_of_data(frame)
    built, path = _store_snapshot(frame, cutoff)
    typer.echo(f"snapshot as of {cutoff}: {len(built.frame):,} members -> {path}")


def _store_snapshot(frame: Any, as_of: date) -> tuple[Any, Path]:
    """Build the serving snapshot as of ``as_of`` and write it to the store.

    The newest stored snapshot older than ``as_of`` supplies last period's tiers, so a member
    keeps a higher tier while their spend stays within the grace (segment_rules.yaml, tiers).
    """
    from features.snapshot import build_snapshot
    from features.store import default_snapshot_dir, previous_tiers, write_snapshot

    directory = default_snapshot_dir()
    built = build_snapshot(frame, as_of, previous_tiers=previous_tiers(directory, as_of))
    return built, write_snapshot(built, directory)


@app.command()
@one_line_errors
def score(
    transactions: TransactionsOption,
    as_of: Annotated[str, typer.Option(help="YYYY-MM-DD: only rows before this date are used")],
    out: Annotated[Path, typer.Option(help="output file, .csv or .parquet")],
    mapping: MappingOption = None,
    rejects: RejectsOption = None,
) -> None:
    """Score every member with a purchase before --as-of with every champion model."""
    from features.snapshot import build_snapshot
    from serving.scoring import score_frame
    from training import registry
    from training.tasks import TASK_NAMES

    if out.suffix not in (".csv", ".parquet"):
        raise ValueError(f"--out {out}: expected a .csv or .parquet file")
    cutoff = _parse_date(as_of)
    progress = Progress()
    registry.configure_tracking()
    models = {task: registry.load_booster(task) for task in TASK_NAMES}
    models = {task: booster for task, booster in models.items() if booster is not None}
    if "churn" not in models:
        raise NotReady(f"no champion for {registry.model_name('churn')}: run `memberscore train` first")
    frame, _ = _load(transactions, mapping, rejects, progress)
    built = build_snapshot(frame, cutoff)
    scores = score_frame(models, built.model_inputs(), built.profile, cutoff)
    out.parent.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out, index=False) if out.suffix == ".csv" else scores.to_parquet(out, index=False)
    typer.echo(f"scored {len(scores):,} members as of {cutoff} with {', '.join(sorted(models))} "
               f"(mean churn probability {scores['churn_probability'].mean():.3f}) -> {out}")


def _parse_date(text: str, option: str = "--as-of") -> date:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected a date as YYYY-MM-DD") from None


@app.command()
@one_line_errors
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 3000,
    insecure_no_auth: Annotated[bool, typer.Option("--insecure-no-auth", help="serve without API keys (local use only)")] = False,
) -> None:
    """Serve the champion models and the newest snapshot over HTTP (BentoML), API keys required."""
    from serving import auth
    from serving.artefacts import import_champions
    from training import registry

    registry.configure_tracking()
    if insecure_no_auth:
        os.environ[auth.INSECURE_ENV] = "1"
    ring = auth.key_ring_from_env()
    if not ring.hashes and not insecure_no_auth:
        raise NotReady(f"no API key configured: set {auth.KEYS_ENV} or {auth.KEY_FILE_ENV} "
                       "(`memberscore keys create --file F`), or pass --insecure-no-auth for local use")
    mode = f"{len(ring.hashes)} API key(s), header X-API-Key" if ring.hashes else "NO AUTHENTICATION (--insecure-no-auth)"
    imported = import_champions()
    if "churn" not in imported:
        typer.echo(f"warning: no champion for {registry.model_name('churn')} yet: /readyz says 503 until "
                   "`memberscore train` promotes one", err=True)
    typer.echo(f"serving on http://{host}:{port} ({mode}); marketers' page at /ui, API at /docs.json", err=True)
    command = [sys.executable, "-m", "bentoml", "serve", "serving.service:MemberScoring", "--host", host, "--port", str(port)]
    os.execv(sys.executable, command)


keys = typer.Typer(help="API keys: stored as SHA-256 hashes only.", no_args_is_help=True)
app.add_typer(keys, name="keys")


@keys.command("create")
@one_line_errors
def create_key(
    file: Annotated[Path, typer.Option("--file", help="key file to append the new key's hash to")],
) -> None:
    """Create a key, append its hash to --file and print the key once (it is not stored anywhere)."""
    from serving import auth

    key = auth.new_key()
    if file.exists():
        auth.read_key_file(file)  # refuse to append to a file the service could not read
    file.parent.mkdir(parents=True, exist_ok=True)
    with file.open("a", encoding="utf-8") as out:
        out.write(auth.hash_key(key) + "\n")
    file.chmod(0o600)
    typer.echo(key)
    typer.echo(f"its hash was appended to {file}; serve with {auth.KEY_FILE_ENV}={file}", err=True)


LabelsOption = Annotated[list[str] | None, typer.Option(help="keep only these (repeat the option for several)")]
# request fields as the targets command spells them, for one-line errors
TARGET_OPTIONS = {"campaign": "--campaign", "limit": "--limit", "explain": "--explain",
                  "filters.segments": "--segment", "filters.tiers": "--tier", "filters.abc_classes": "--abc",
                  "filters.lifecycle_stages": "--stage", "filters.min_value": "--min-value",
                  "filters.exclude_member_ids": "--exclude"}


@app.command()
@one_line_errors
def targets(
    campaign: Annotated[str, typer.Option(help="winback, retain_high_value, upsell or next_purchase_reminder")],
    out: Annotated[Path, typer.Option(help="output file, .csv or .json")],
    limit: Annotated[int, typer.Option(help="rows to write, best first (1 to 10,000)")] = 100,
    segment: LabelsOption = None,
    tier: LabelsOption = None,
    abc: LabelsOption = None,
    stage: LabelsOption = None,
    min_value: Annotated[float | None, typer.Option(help="keep members worth at least this")] = None,
    exclude: Annotated[Path | None, typer.Option(help="file of member ids to leave out, one per line")] = None,
    explain: Annotated[int, typer.Option(help="reasons per row from the campaign's model (0 to 10)")] = 3,
    pseudonymise: Annotated[bool, typer.Option("--pseudonymise", help="write keyed pseudonyms (HMAC-SHA256 with "
                                               "MEMBERSCORE_PSEUDONYM_KEY) instead of member ids")] = False,
) -> None:
    """Write a campaign's ranked target list, each member with the reasons of the campaign's model."""
    from features.store import default_snapshot_dir, latest_snapshot_path
    from serving.live import load_snapshot
    from serving.pseudonym import pseudonym_key, pseudonymised
    from serving.targets import targets_csv, targets_response

    if out.suffix not in (".csv", ".json"):
        raise ValueError(f"--out {out}: expected a .csv or .json file")
    key = pseudonym_key() if pseudonymise else None  # before any work: no key, no list
    filters = {"segments": segment, "tiers": tier, "abc_classes": abc, "lifecycle_stages": stage, "min_value": min_value,
               "exclude_member_ids": _member_ids(exclude) if exclude else []}
    request = _with_option_names(_targets_request, {"campaign": campaign, "limit": limit, "filters": filters,
                                                    "explain": explain})
    models = _champion_boosters()
    path = latest_snapshot_path(default_snapshot_dir())
    if path is None:
        raise NotReady(f"no feature snapshot in {default_snapshot_dir()}: run `memberscore train` or `memberscore snapshot`")
    response = _with_option_names(targets_response, models, load_snapshot(path, models), request)
    response = pseudonymised(response, key) if key is not None else response
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(targets_csv(response) if out.suffix == ".csv" else response.model_dump_json(indent=2), encoding="utf-8")
    typer.echo(f"{response.campaign}: {len(response.rows):,} of {response.eligible:,} eligible members "
               f"(snapshot as of {response.snapshot_as_of}) -> {out}")


def _member_ids(path: Path) -> list[str]:
    """One id per line; blank lines and surrounding spaces are ignored."""
    if not path.is_file():
        raise FileNotFoundError(f"--exclude {path}: no such file")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _targets_request(fields: dict[str, Any]) -> Any:
    """The request (known campaign first), with pydantic's first complaint as one ValueError naming the field."""
    from pydantic import ValidationError

    from serving.schemas import TargetsRequest
    from serving.targets import campaign_named

    campaign_named(fields["campaign"])
    try:
        return TargetsRequest.model_validate(fields)
    except ValidationError as error:
        first = error.errors()[0]
        raise ValueError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def _with_option_names(call: Callable[..., Any], *args: Any) -> Any:
    """``call(*args)``, with a request field that starts an error message renamed to its option."""
    try:
        return call(*args)
    except ValueError as error:
        field, _, rest = str(error).partition(":")
        if field in TARGET_OPTIONS:
            raise ValueError(f"{TARGET_OPTIONS[field]}:{rest}") from None
        raise


def _champion_boosters() -> dict[str, Any]:
    """Every task's champion booster from the MLflow registry (tasks without one are left out)."""
    from training import registry
    from training.tasks import TASK_NAMES

    registry.configure_tracking()
    boosters = {task: registry.load_booster(task) for task in TASK_NAMES}
    return {task: booster for task, booster in boosters.items() if booster is not None}


@app.command()
@one_line_errors
def simulate(
    members: Annotated[int, typer.Option(help="members to simulate (>= 1)")],
    out: Annotated[Path, typer.Option(help="output file, .csv or .parquet; the planted truth goes beside it")],
    seed: Annotated[int, typer.Option(help="random seed: the same seed writes the same file")] = 0,
    start: Annotated[str, typer.Option(help="first day, YYYY-MM-DD")] = "2023-01-01",
    days: Annotated[int, typer.Option(help="days of history (>= 1)")] = 730,
) -> None:
    """Write synthetic transactions with known behaviour (BG/NBD, Gamma-Gamma, affinities, returns, seasons)."""
    from features.simulate import simulate_retail, write_simulation

    if members < 1:
        raise ValueError(f"--members {members}: must be at least 1")
    if days < 1:
        raise ValueError(f"--days {days}: must be at least 1")
    if out.suffix not in (".csv", ".parquet"):
        raise ValueError(f"--out {out}: expected a .csv or .parquet file")
    first_day = _parse_date(start, option="--start")
    started = time.perf_counter()
    transactions, truth = simulate_retail(members, first_day, days, seed)
    truth_file = write_simulation(transactions, truth, out)
    returns = int((transactions["amount"] < 0).sum())
    typer.echo(f"simulated {members:,} members, {len(transactions):,} lines ({returns:,} returns) from {first_day} "
               f"over {days} days in {time.perf_counter() - started:.1f} s -> {out} (truth: {truth_file})")


@app.command()
@one_line_errors
def validate(transactions: TransactionsOption, mapping: MappingOption = None, rejects: RejectsOption = None) -> None:
    """Load and check a transactions file without training; print the load report as JSON.

    Exit 0 when some rows are usable; exit 2 with one line when none are or the file cannot be read.
    """
    _, load_report = _load(transactions, mapping, rejects, Progress())
    typer.echo(json.dumps(load_report.to_dict(), indent=2))


@app.command()
@one_line_errors
def build(
    bentofile: Annotated[Path, typer.Option(help="the Bento's build file")] = Path("bentofile.yaml"),
) -> None:
    """Build a Bento serving the current champions (then: bentoml containerize <tag>)."""
    from serving.bento import build_bento
    from training import registry

    registry.configure_tracking()
    bento = build_bento(bentofile)
    models = ", ".join(str(model.tag) for model in bento.info.models)
    typer.echo(f"built {bento.tag} with {models}; containerize with `bentoml containerize {bento.tag}`")


if __name__ == "__main__":
    app()
