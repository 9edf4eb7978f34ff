"""Why the daily refresh retrains or alerts: one reason per rule that fired, and its line for people.

A reason is kept as data (the rule, its action, the task and the numbers) and written as a sentence
only when someone reads it, in their language: the refresh log stores the data, so the page shows a
run's reasons in Chinese or English alike. The rule's own key (``backtest_below_baseline``) stays in
every line untranslated: it is what the reader looks up in ``refresh_rules.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from features.i18n import Translator
from features.refresh_rules import Action
from features.value_names import label

Value = str | int | float
TASK: Final = "task"  # catalogue context of task names
ACTION: Final = "refresh_action"  # catalogue context of what a rule does
LEVEL: Final = "drift_level"  # catalogue context of drift levels
N_ = str  # marks a msgid for extraction where it is defined (translated where it is shown)

TEMPLATES: Final[dict[str, str]] = {
    "champion_age": N_("{task}: the champion (version {version}) was trained {days} days ago, more than the "
                       "{max_days} the rule allows (rule champion_age)"),
    "no_champion": N_("{task}: no champion yet (rule no_champion)"),
    "backtest_below_baseline": N_("{task}: the backtest of {as_of} scored {metric} {served}, worse than the baseline "
                                  "{baseline} ({best}) by {gap}, more than the margin {margin} (rule backtest_below_baseline)"),
    "backtest_below_training": N_("{task}: the backtest of {as_of} scored {metric} {served} against {trained} at "
                                  "training, worse by {gap}, more than the margin {margin} (rule backtest_below_training)"),
}
DRIFT_TEMPLATES: Final[dict[str, tuple[str, str]]] = {
    "score": (N_("{task}: {count} score at drift level {level} or worse ({columns}); the rule fires at {limit} (rule drift)"),
              N_("{task}: {count} scores at drift level {level} or worse ({columns}); the rule fires at {limit} (rule drift)")),
    "feature": (N_("{task}: {count} feature at drift level {level} or worse ({columns}); the rule fires at {limit} (rule drift)"),
                N_("{task}: {count} features at drift level {level} or worse ({columns}); the rule fires at {limit} (rule drift)")),
}
ACTIONS: Final = {"retrain": N_("retrain"), "alert": N_("alert")}
NUMBERS: Final = frozenset({"served", "best", "trained", "gap", "margin"})  # metric values, shown with 3 decimals


@dataclass(frozen=True)
class Reason:
    """One rule that fired for one task: ``values`` fill its sentence (metric values as floats)."""

    rule: str
    action: Action
    task: str
    values: Mapping[str, Value] = field(default_factory=dict)

    def as_record(self) -> dict[str, Any]:
        """The reason as JSON data (the refresh log)."""
        return {"rule": self.rule, "action": self.action, "task": self.task, "values": dict(self.values)}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Reason:
        return cls(str(record["rule"]), record["action"], str(record["task"]), dict(record.get("values") or {}))


def reason_line(reason: Reason, words: Translator) -> str:
    """``retrain: churn: ...`` in the reader's language; numbers in the locale's style."""
    shown: dict[str, str] = {key: _shown(key, value, words) for key, value in reason.values.items()}
    shown["task"] = label(TASK, reason.task, words) or reason.task
    if "level" in reason.values:
        shown["level"] = words.pgettext(LEVEL, str(reason.values["level"]))
    if reason.rule == "drift":
        singular, plural = DRIFT_TEMPLATES[str(reason.values["kind"])]
        body = words.ngettext(singular, plural, int(reason.values["count"]))
    else:
        body = words.gettext(TEMPLATES[reason.rule])
    action = words.pgettext(ACTION, ACTIONS[reason.action])
    return words.gettext("{action}: {reason}").format(action=action, reason=body.format(**shown))


def _shown(key: str, value: Value, words: Translator) -> str:
    if key in NUMBERS and isinstance(value, (int, float)):
        return words.number(value, 3)
    return str(value)
