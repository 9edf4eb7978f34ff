"""``--project`` on every command and ``snapshot --allow-shrink`` (issue 14, items 7 and 8), in process.

A project's snapshots go to its own directory; a bad name stops any command with one line naming
--project and the rule; MEMBERSCORE_PROJECT stands in for the option; the shrink mark is stored.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from features.project import MAX_LENGTH, check_project
from features.store import snapshot_facts
from models.catalog import model_name
from models.tasks import TASK_NAMES

AS_OF = "2023-08-01"
runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, list(args), env=env)


@pytest.fixture(scope="module")
def small_csv(synthetic: tuple[pd.DataFrame, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 simulated members: a snapshot of them takes about a second."""
    transactions = synthetic[0]
    path = tmp_path_factory.mktemp("project_data") / "tx.csv"
    transactions[transactions["member_id"] < "m00060"].to_csv(path, index=False)
    return path


def snapshots_of(stores: object, project: str) -> list[str]:
    return sorted(p.name for p in (stores.snapshots / project).glob("snapshot-*.parquet"))


@pytest.mark.slow  # a few seconds: runs in `make test`, not in test-fast
def test_snapshot_goes_to_the_projects_own_directory(stores: object, small_csv: Path) -> None:
    result = run("snapshot", "--transactions", str(small_csv), "--as-of", AS_OF, "--project", "shop-a")
    assert result.exit_code == 0, result.output
    assert snapshots_of(stores, "shop-a") == [f"snapshot-{AS_OF}.parquet"]
    assert snapshots_of(stores, "default") == []
    assert not list(stores.snapshots.glob("snapshot-*.parquet")), "nothing at the root, where no project reads"


@pytest.mark.slow  # a few seconds: runs in `make test`, not in test-fast
def test_the_environment_names_the_project_and_the_option_wins(stores: object, small_csv: Path) -> None:
    args = ["snapshot", "--transactions", str(small_csv), "--as-of", AS_OF]
    assert run(*args, env={"MEMBERSCORE_PROJECT": "shop-b"}).exit_code == 0
    assert run(*args, "--project", "shop-c", env={"MEMBERSCORE_PROJECT": "shop-b"}).exit_code == 0
    assert snapshots_of(stores, "shop-b") == snapshots_of(stores, "shop-c") == [f"snapshot-{AS_OF}.parquet"]


@pytest.mark.slow  # a few seconds: runs in `make test`, not in test-fast
def test_allow_shrink_writes_the_mark_and_a_plain_snapshot_has_none(stores: object, small_csv: Path) -> None:
    plain = run("snapshot", "--transactions", str(small_csv), "--as-of", AS_OF)
    marked = run("snapshot", "--transactions", str(small_csv), "--as-of", "2023-08-02", "--allow-shrink")
    assert plain.exit_code == marked.exit_code == 0, plain.output + marked.output
    assert "intended shrink" in marked.stdout and "intended shrink" not in plain.stdout
    directory = stores.snapshots / "default"
    assert not snapshot_facts(directory / f"snapshot-{AS_OF}.parquet").allow_shrink
    facts = snapshot_facts(directory / "snapshot-2023-08-02.parquet")
    assert facts.allow_shrink and facts.as_of == date(2023, 8, 2) and facts.members > 0


@pytest.mark.slow  # a few seconds: runs in `make test`, not in test-fast
def test_a_shrinking_snapshot_is_flagged_when_written_unless_marked(stores: object, small_csv: Path,
                                                                  tmp_path: Path) -> None:
    """60 members, then 5 (a partial file): written, with a warning that a service will hold it."""
    few = tmp_path / "few.csv"
    lines = pd.read_csv(small_csv, dtype=str)
    lines[lines["member_id"] < "m00005"].to_csv(few, index=False)
    assert run("snapshot", "--transactions", str(small_csv), "--as-of", AS_OF).exit_code == 0
    partial = run("snapshot", "--transactions", str(few), "--as-of", "2023-08-02")
    marked = run("snapshot", "--transactions", str(few), "--as-of", "2023-08-03", "--allow-shrink")

    assert partial.exit_code == marked.exit_code == 0, partial.output + marked.output
    directory = stores.snapshots / "default"
    counts = [snapshot_facts(directory / f"snapshot-{day}.parquet").members for day in (AS_OF, "2023-08-02")]
    assert counts[1] < counts[0] / 2
    assert (f"warning: a running service will keep its snapshot: snapshot snapshot-2023-08-02.parquet refused: "
            f"{counts[1]} members, fewer than 50% of the {counts[0]} in snapshot-{AS_OF}.parquet") in partial.stderr
    assert "warning" not in marked.stderr.lower()


BAD_NAMES = ["Shop", "shop.a", "-shop", "", "a" * (MAX_LENGTH + 1), "shop/a", "shop a"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_bad_project_name_is_one_line_naming_the_option_and_the_rule(stores: object, small_csv: Path,
                                                                       name: str) -> None:
    result = run("snapshot", "--transactions", str(small_csv), "--project", name)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith(f"error: --project {name!r}:") and "^[a-z0-9][a-z0-9_-]{0," in line
    assert not list(stores.snapshots.rglob("snapshot-*.parquet"))


@pytest.mark.parametrize("command", [["train"], ["validate"], ["score", "--as-of", AS_OF, "--out", "s.csv"],
                                     ["targets", "--campaign", "winback", "--out", "t.csv"], ["serve"], ["build"]])
def test_every_command_checks_the_project(stores: object, small_csv: Path, command: list[str]) -> None:
    data = [] if command[0] in ("targets", "serve", "build") else ["--transactions", str(small_csv)]
    result = run(*command, *data, env={"MEMBERSCORE_PROJECT": "Bad Name"})
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: MEMBERSCORE_PROJECT 'Bad Name':")  # the variable that held it


def test_model_names_are_valid_bentoml_tags_for_the_longest_project() -> None:
    """<project>.memberscore-<task> for every task fits a BentoML tag (63 characters, [a-z0-9._-])."""
    from bentoml._internal.tag import validate_tag_str

    for task in TASK_NAMES:
        for project in ("a", "0" + "z" * (MAX_LENGTH - 1), "shop_b-2"):
            validate_tag_str(model_name(task, project=project))
    assert model_name("next_purchase", project="demo") == "demo.memberscore-next-purchase"


def test_model_name_refuses_a_bad_project() -> None:
    with pytest.raises(ValueError, match="--project 'a.b'"):
        model_name("churn", project="a.b")
    assert check_project("x" * MAX_LENGTH) == "x" * MAX_LENGTH
