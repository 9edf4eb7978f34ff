"""What the daily refresh knows about each task's champion before it decides (``features.refresh_decision``).

A task with a champion is described by its version, when that version was registered and its
out-of-time metrics at training, named as backtests name them (the run's ``oot_model_roc_auc`` is
``roc_auc``). A task without one is handed to the ``no_champion`` rule only when nothing has tried
it lately: a task whose model lost its gate (a baseline serves, rightly) or that the data could
not fit (no categories, too short a span) would otherwise be retrained every day for nothing. It is
tried again once its last attempt is older than the champion age rule's ``max_days``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from features.i18n import Translator
from features.refresh_decision import Champion
from features.refresh_log import RefreshRun
from features.refresh_rules import RefreshRules
from models import catalog
from models.tasks import TASK_NAMES

TRAINING_METRIC_PREFIX: Final = "oot_model_"  # training.pipeline's flat metric names of the model itself
RETRY_WITHOUT_AGE_RULE_DAYS: Final = 90  # when champion_age is switched off


@dataclass(frozen=True)
class ChampionFacts:
    """``champions`` for ``decide``; ``resting``: tasks without a champion left alone today, with the
    time of their last attempt and why they are left."""

    champions: dict[str, Champion | None] = field(default_factory=dict)
    resting: dict[str, tuple[datetime, str]] = field(default_factory=dict)

    def lines(self, words: Translator, rules: RefreshRules) -> list[str]:
        retry = timedelta(days=retry_days(rules))
        said = words.gettext("{task}: no champion (a baseline serves); last tried {when} ({why}); tried again after {again}")
        return [said.format(task=task, when=when.date(), why=why, again=(when + retry).date())
                for task, (when, why) in self.resting.items()]


def retry_days(rules: RefreshRules) -> int:
    return rules.champion_age.max_days if rules.champion_age is not None else RETRY_WITHOUT_AGE_RULE_DAYS


def champion_facts(project: str, now: datetime, rules: RefreshRules, runs: Sequence[RefreshRun],
                   tasks: Sequence[str] = TASK_NAMES) -> ChampionFacts:
    """Every task's champion from the registry, or None, or left resting (see the module's docstring)."""
    facts = ChampionFacts()
    retry = timedelta(days=retry_days(rules))
    for task in tasks:
        target = catalog.alias_target(task, catalog.CHAMPION, project=project)
        if target is not None:
            facts.champions[task] = Champion(target.version, catalog.version_created_at(task, target.version, project=project),
                                             backtest_named(catalog.run_metrics(target.run_id)))
            continue
        last = last_attempt(task, project, runs)
        if last is None or now - last[0] > retry:
            facts.champions[task] = None
        else:
            facts.resting[task] = last
    return facts


def backtest_named(metrics: Mapping[str, float]) -> dict[str, float]:
    """The model's own out-of-time metrics at training, under the names backtests give them."""
    return {name.removeprefix(TRAINING_METRIC_PREFIX): value for name, value in metrics.items()
            if name.startswith(TRAINING_METRIC_PREFIX)}


def last_attempt(task: str, project: str, runs: Sequence[RefreshRun]) -> tuple[datetime, str] | None:
    """The newest of: a registered version of ``task`` (it lost its gate, or was rolled back) and a
    refresh whose retrain skipped it (the data could not fit it); None when neither exists."""
    attempts: list[tuple[datetime, str]] = []
    if (registered := catalog.newest_version_created_at(task, project=project)) is not None:
        attempts.append((registered, "a model was trained and did not become champion"))
    attempts.extend((run.finished_at, f"skipped: {run.skipped[task]}") for run in runs if task in run.skipped)
    return max(attempts, key=lambda attempt: attempt[0], default=None)
