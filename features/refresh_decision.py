"""Whether the daily refresh retrains, and whether it alerts a person: a pure function of what is known.

``decide`` reads the champions (version, training date, out-of-time metrics at training), the
matured backtests (the ``backtests`` of ``GET /monitoring``, oldest first), the drift of the
serving snapshot from each champion's training data, and the rules (``refresh_rules.yaml``). It
touches no file, clock or model, so every rule is tested by a table of cases.

Only a backtest of the version that serves now counts: a backtest of a champion since replaced says
nothing about the new one, and would otherwise retrain every day until the new one's backtest
matures (a horizon later). Metrics served by a baseline (the model lost its gate) are not a model's
decay and are skipped. Differences are rounded to 9 decimals before the comparison with a margin,
so a gap of exactly the margin (0.80 - 0.75 against 0.05) does not fire on floating-point dust.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from features.drift import DriftReport
from features.drift_rules import Level
from features.i18n import Translator
from features.refresh_reasons import Reason, reason_line
from features.refresh_rules import LEVEL_ORDER, DriftRule, RefreshRules

DUST_DECIMALS = 9


@dataclass(frozen=True)
class Champion:
    """The model that serves a task: its registry version, when it was trained (timezone-aware) and its
    out-of-time metrics at training, named as in backtests (``roc_auc``); empty when not known."""

    version: str
    trained_at: datetime
    metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DriftLevels:
    """Each score's and each feature's drift level for one task (the worse of PSI and missing share)."""

    scores: Mapping[str, Level] = field(default_factory=dict)
    features: Mapping[str, Level] = field(default_factory=dict)


@dataclass(frozen=True)
class RefreshDecision:
    """Retrain ``tasks`` (empty: no retrain), alert a person or not, and every reason, in rule order."""

    tasks: tuple[str, ...]
    alert: bool
    reasons: tuple[Reason, ...]

    @property
    def retrain(self) -> bool:
        return bool(self.tasks)

    def lines(self, words: Translator) -> tuple[str, ...]:
        return tuple(reason_line(reason, words) for reason in self.reasons)


def drift_levels(report: DriftReport) -> DriftLevels:
    """The levels ``decide`` reads from a drift report (features.drift.compare)."""
    worst = {c.column: max(c.psi_level, c.missing_level, key=LEVEL_ORDER.__getitem__) for c in report.columns}
    return DriftLevels(scores={c.column: worst[c.column] for c in report.columns if c.kind == "score"},
                       features={c.column: worst[c.column] for c in report.columns if c.kind == "feature"})


def decide(now: datetime, champions: Mapping[str, Champion | None], backtests: Sequence[Mapping[str, Any]],
           drift: Mapping[str, DriftLevels], rules: RefreshRules) -> RefreshDecision:
    """Every rule that fires, for every task: ``champions`` maps each task the project trains to its
    champion, or None when it has none yet."""
    if now.tzinfo is None:
        raise ValueError("now: a timezone-aware time is needed (UTC)")
    reasons = [*_champion_reasons(now, champions, rules), *_backtest_reasons(champions, backtests, rules),
               *_drift_reasons(drift, rules)]
    tasks = tuple(dict.fromkeys(r.task for r in reasons if r.action == "retrain"))
    return RefreshDecision(tasks, any(r.action == "alert" for r in reasons), tuple(reasons))


def _champion_reasons(now: datetime, champions: Mapping[str, Champion | None], rules: RefreshRules) -> Iterator[Reason]:
    for task, champion in champions.items():
        if champion is None:
            if rules.no_champion is not None:
                yield Reason("no_champion", rules.no_champion.action, task)
            continue
        if champion.trained_at.tzinfo is None:
            raise ValueError(f"champions.{task}.trained_at: a timezone-aware time is needed (UTC)")
        age = now - champion.trained_at
        if rules.champion_age is not None and age > timedelta(days=rules.champion_age.max_days):
            yield Reason("champion_age", rules.champion_age.action, task,
                         {"version": champion.version, "days": age.days, "max_days": rules.champion_age.max_days})


def _backtest_reasons(champions: Mapping[str, Champion | None], backtests: Sequence[Mapping[str, Any]],
                      rules: RefreshRules) -> Iterator[Reason]:
    for task, champion in champions.items():
        backtest = _newest_backtest_of(task, champion, backtests)
        if champion is None or backtest is None:
            continue
        for row in backtest["metrics"]:
            if row["task"] != task or row.get("served") is None or not str(row.get("served_by", "")).startswith("model"):
                continue
            yield from _metric_reasons(task, champion, str(backtest["as_of"]), row, rules)


def _newest_backtest_of(task: str, champion: Champion | None, backtests: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The newest backtest of the scores ``champion`` served for ``task``."""
    if champion is None:
        return None
    own = [b for b in backtests if str((b.get("model_versions") or {}).get(task)) == champion.version
           and any(row["task"] == task for row in b.get("metrics", []))]
    return max(own, key=lambda b: str(b["as_of"]), default=None)


def _metric_reasons(task: str, champion: Champion, as_of: str, row: Mapping[str, Any], rules: RefreshRules) -> Iterator[Reason]:
    served, metric, higher = float(row["served"]), str(row["metric"]), row.get("direction", "higher") == "higher"

    def worse_by(reference: float) -> float:
        return round(reference - served if higher else served - reference, DUST_DECIMALS)

    baselines = {name: float(v) for name, v in (row.get("baselines") or {}).items() if v is not None}
    rule = rules.backtest_below_baseline
    if rule is not None and baselines:
        name = (max if higher else min)(baselines, key=baselines.__getitem__)
        gap = worse_by(baselines[name])
        if gap > rule.margin:
            yield Reason("backtest_below_baseline", rule.action, task, {
                "as_of": as_of, "metric": metric, "served": served, "baseline": name, "best": baselines[name],
                "gap": gap, "margin": rule.margin})
    trained, rule = champion.metrics.get(metric), rules.backtest_below_training
    if rule is not None and trained is not None and worse_by(trained) > rule.margin:
        yield Reason("backtest_below_training", rule.action, task, {
            "as_of": as_of, "metric": metric, "served": served, "trained": float(trained), "gap": worse_by(trained),
            "margin": rule.margin})


def _drift_reasons(drift: Mapping[str, DriftLevels], rules: RefreshRules) -> Iterator[Reason]:
    for task, levels in drift.items():
        for rule in rules.drift:
            columns = _at_or_above(levels.scores if rule.kind == "score" else levels.features, rule)
            if len(columns) >= rule.count:
                yield Reason("drift", rule.action, task, {"kind": rule.kind, "level": rule.level, "count": len(columns),
                                                          "columns": ", ".join(columns), "limit": rule.count})


def _at_or_above(levels: Mapping[str, Level], rule: DriftRule) -> list[str]:
    return sorted(column for column, level in levels.items() if LEVEL_ORDER[level] >= LEVEL_ORDER[rule.level])
