"""Backtests: every stored snapshot whose horizon has passed, judged against what really happened.

``run_backtests`` is the one entry (``memberscore backtest`` and the routine ``refresh`` call it):
for each date in the project's score history (``features.score_history``) whose H-day window the
transactions fully cover (as_of + H <= the day after the last row, training's rule in
``training.cutoffs``) and that has no stored result yet, it builds the outcomes with training's labels,
computes the metrics (``training.backtest_metrics``) for what served and each baseline on the same
members, logs one MLflow run per date and stores the result (``features.backtest_store``) for the
service. A date already judged is skipped: backtests are idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from features import contract
from features.backtest_store import backtested_dates, write_backtest
from features.labels import build_labels, category_history
from features.score_history import StoredScores, history_path, read_scores, score_facts, stored_dates
from features.settings import Settings
from features.store import project_snapshot_dir
from models import catalog
from training import registry
from training.backtest_metrics import ADOPTED, OUTCOME, backtest_metrics
from training.config import TrainConfig
from training.cross_sell import CUTOFF, new_category_any
from training.upsell import spend_up


@dataclass(frozen=True)
class BacktestRun:
    """What one call did: the new results (documents as stored), the matured dates already judged,
    and the dates still waiting for their horizon (as_of, first day the data must reach)."""

    done: list[dict[str, Any]] = field(default_factory=list)
    already: list[date] = field(default_factory=list)
    waiting: list[tuple[date, date]] = field(default_factory=list)
    stored: int = 0  # score dates in the history


def run_backtests(transactions: pd.DataFrame, project: str, settings: Settings,
                  config: TrainConfig | None = None) -> BacktestRun:
    """Judge every matured, not yet judged score date of ``project`` against ``transactions``.

    MLflow is pointed at ``settings.mlflow_tracking_uri``; ``config`` gives the upsell spend-up growth
    when the data has no categories (default: training's). No stored scores is no error here
    (``stored`` is 0): the routine's first day has nothing to judge yet.
    """
    catalog.configure_tracking(settings.mlflow_tracking_uri)
    directory, key = project_snapshot_dir(settings.snapshot_dir, project), settings.encryption_key()
    covered = transactions[contract.TS].max().date() + timedelta(days=1)  # the day after the last row
    judged, dates = set(backtested_dates(directory)), stored_dates(directory)
    run = BacktestRun(stored=len(dates))
    for as_of in dates:
        facts = score_facts(history_path(directory, as_of), key)
        matures = as_of + timedelta(days=facts.horizon_days)
        if matures > covered:
            run.waiting.append((as_of, matures))
        elif as_of in judged:
            run.already.append(as_of)
        else:
            document = backtest(read_scores(history_path(directory, as_of), key), transactions, project,
                                config or TrainConfig())
            write_backtest(document, directory, as_of, key)
            run.done.append(document)
    return run


def backtest(stored: StoredScores, transactions: pd.DataFrame, project: str, config: TrainConfig) -> dict[str, Any]:
    """One stored date judged: its metrics beside its baselines, logged to MLflow; the stored document."""
    joined = outcomes(stored, transactions, config)
    metrics = backtest_metrics(joined, stored.horizon_days, stored.baselines)
    run_id, _ = registry.log_backtest(project, stored.as_of, _flat(metrics), _params(stored, len(joined)),
                                      _tags(stored, metrics))
    return {"as_of": stored.as_of.isoformat(), "horizon_days": stored.horizon_days,
            "evaluated_on": datetime.now(UTC).date().isoformat(), "members": len(joined),
            "model_versions": stored.model_versions, "mlflow_run_id": run_id, "metrics": metrics}


def outcomes(stored: StoredScores, transactions: pd.DataFrame, config: TrainConfig) -> pd.DataFrame:
    """The stored scores joined with what the members did in [as_of, as_of + H) (training's labels),
    plus the upsell outcome: a new category bought when the data has categories (and which ones,
    for the offers' hit rate), else spend-up."""
    labels = build_labels(transactions, stored.as_of, stored.horizon_days)
    scores = stored.scores.assign(**{contract.MEMBER_ID: stored.scores[contract.MEMBER_ID].astype(str)})
    joined = scores.merge(labels.astype({contract.MEMBER_ID: str}), on=contract.MEMBER_ID, how="inner",
                          validate="one_to_one")
    if contract.CATEGORY not in transactions.columns:
        return joined.assign(**{OUTCOME: spend_up(joined, config.spend_up_growth)})
    history = category_history(transactions, stored.as_of, stored.horizon_days)
    adopted = history[history["bought_in_horizon"] & ~(history["spend_before"] > 0)]
    lists = adopted.groupby(contract.MEMBER_ID)[contract.CATEGORY].agg(list)
    joined[ADOPTED] = pd.Series([lists.get(m, []) for m in joined[contract.MEMBER_ID]], index=joined.index, dtype=object)
    if history.empty:
        joined[OUTCOME] = 0
        return joined
    keys = pd.MultiIndex.from_arrays([[stored.as_of] * len(joined), joined[contract.MEMBER_ID]])
    joined[OUTCOME] = new_category_any(history.assign(**{CUTOFF: stored.as_of}), keys)
    return joined


def _flat(metrics: list[dict[str, Any]]) -> dict[str, float]:
    """MLflow metric names: ``<task>.<metric>.served`` and ``<task>.<metric>.<baseline>``."""
    flat = {}
    for row in metrics:
        prefix = f"{row['task']}.{row['metric']}"
        values = {"served": row["served"], **row["baselines"]}
        flat.update({f"{prefix}.{name}": float(value) for name, value in values.items() if value is not None})
    return flat


def _params(stored: StoredScores, members: int) -> dict[str, str]:
    return {"as_of": stored.as_of.isoformat(), "horizon_days": str(stored.horizon_days), "members": str(members)}


def _tags(stored: StoredScores, metrics: list[dict[str, Any]]) -> dict[str, str]:
    """The model versions that served (``model_version.<task>``) and what served each task, to link the run."""
    served = {f"served_by.{row['task']}": row["served_by"] for row in metrics}
    return {**{f"model_version.{task}": version for task, version in stored.model_versions.items()}, **served}
