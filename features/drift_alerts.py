"""Drift from the champions' training data as alerts: one record per threshold crossed, with a sentence.

``GET /alerts`` lists these beside the KPI alerts (``features.kpi_alerts``), as their own kind:
codes and numbers for programs (task, model version, column, measure, value, level, threshold)
and a ``message`` in the reader's language. No member ids: every value is a share or a PSI.
"""

from __future__ import annotations

from typing import Any

from features.drift import ColumnDrift
from features.drift_reference import TrainingDrift
from features.drift_rules import DriftRules, Level
from features.i18n import Translator
from features.value_names import label


def drift_alerts(drift: TrainingDrift, rules: DriftRules, words: Translator) -> list[dict[str, Any]]:
    """Every breach in ``drift``, alerts before warnings, then in report order (task, column)."""
    found: list[dict[str, Any]] = []
    for task, report in drift.reports.items():
        version, name = drift.versions[task], _task(task, words)
        for column in (c for c in report.columns if c.judged):
            found.extend(_column_alerts(task, version, column, rules, words))
        if report.unknown_share is not None and report.unknown_level != "ok":
            threshold = _threshold(rules, "unknown", report.unknown_level)
            message = words.gettext("{task} v{version}: {share} of the served members are new since its training "
                                    "data (above {threshold})").format(
                task=name, version=version, share=words.percent(report.unknown_share), threshold=words.percent(threshold))
            found.append(_record(task, version, None, None, "unknown_share", report.unknown_share,
                                 report.unknown_level, threshold, message))
    return sorted(found, key=lambda alert: alert["level"] != "alert")


def _column_alerts(task: str, version: str, column: ColumnDrift, rules: DriftRules,
                   words: Translator) -> list[dict[str, Any]]:
    found, name = [], _task(task, words)
    if column.psi is not None and column.psi_level != "ok":
        threshold = _threshold(rules, "psi", column.psi_level)
        message = words.gettext("{task} v{version}: the PSI of {column} is {value} (above {threshold})").format(
            task=name, version=version, column=column.column, value=words.number(column.psi, 3),
            threshold=words.number(threshold, 2))
        found.append(_record(task, version, column.column, column.kind, "psi", column.psi, column.psi_level,
                             threshold, message))
    if column.missing_level != "ok":
        threshold = _threshold(rules, "missing_change", column.missing_level)
        change = abs(column.missing_current - column.missing_reference)
        message = words.gettext("{task} v{version}: the missing share of {column} moved from {before} to {after} "
                                "(above {threshold})").format(
            task=name, version=version, column=column.column, before=words.percent(column.missing_reference),
            after=words.percent(column.missing_current), threshold=words.percent(threshold))
        found.append(_record(task, version, column.column, column.kind, "missing_change", change,
                             column.missing_level, threshold, message))
    return found


def _task(code: str, words: Translator) -> str:
    """The task's name (context ``task``), e.g. ``Churn`` / ``流失``."""
    return label("task", code, words) or code


def _threshold(rules: DriftRules, name: str, level: Level) -> float:
    return float(getattr(rules, f"{name}_{'alert' if level == 'alert' else 'warn'}"))


def _record(task: str, version: str, column: str | None, column_kind: str | None, measure: str, value: float,
            level: Level, threshold: float, message: str) -> dict[str, Any]:
    return {"kind": "drift", "task": task, "model_version": version, "column": column, "column_kind": column_kind,
            "measure": measure, "value": value, "level": level, "threshold": threshold, "message": message}
