"""Each champion's training data as a drift reference: stored when the model is trained, read to judge a snapshot.

Training keeps, per registered model version, a small JSON profile (``features.drift_profile``,
no member ids, a few KB): the features the model reads, binned over its training rows (every
training cut-off), and the scores it serves (``models.served_scores``), binned over its
out-of-time evaluation rows. It is an MLflow artifact of the run and a file in the project's
snapshot directory, ``<snapshot_dir>/<project>/reference/<task>-v<version>.json``, which the
service and ``memberscore refresh`` read without MLflow; the file names the run it came from, so
a profile left over from another registry (version numbers restart) is refused, not compared.

Unknown members: the training data hold no list of ids (none is kept). A served member is unknown
to a champion when its first purchase is on or after the end of the transactions the champion
was trained on (``data_end``): the snapshot's ``tenure_days`` (days since the first purchase, as of
``as_of``) tells it, so ``tenure_days <= (as_of - data_end)`` in days.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

import pandas as pd

from features.drift import DriftReport, compare
from features.drift_profile import Profile, profile
from features.drift_rules import DriftRules

FORMAT: Final = 1
FOLDER: Final = "reference"
TENURE: Final = "tenure_days"


@dataclass(frozen=True)
class TrainingReference:
    """A model version's training profile: ``features`` over its training rows, ``scores`` over its
    out-of-time rows, and ``data_end``, the exclusive end of the transactions it was trained on."""

    task: str
    model_version: str
    run_id: str
    data_end: date
    features: Profile
    scores: Profile

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "task": self.task, "model_version": self.model_version, "run_id": self.run_id,
                "data_end": self.data_end.isoformat(), "features": self.features.to_dict(),
                "scores": self.scores.to_dict()}

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> TrainingReference:
        return cls(task=str(document["task"]), model_version=str(document["model_version"]),
                   run_id=str(document["run_id"]), data_end=date.fromisoformat(document["data_end"]),
                   features=Profile.from_dict(document["features"]), scores=Profile.from_dict(document["scores"]))


def build_reference(task: str, model_version: str, run_id: str, data_end: date, *, training_rows: pd.DataFrame,
                    feature_names: Sequence[str], evaluation_scores: pd.DataFrame, bins: int) -> TrainingReference:
    """Profile the features a model reads over its training rows and its scores over its evaluation rows."""
    return TrainingReference(task=task, model_version=model_version, run_id=run_id, data_end=data_end,
                             features=profile(training_rows, features=feature_names, bins=bins),
                             scores=profile(evaluation_scores, features=(), scores=list(evaluation_scores.columns),
                                            bins=bins))


def reference_path(project_dir: Path, task: str, version: str) -> Path:
    return project_dir / FOLDER / f"{task}-v{version}.json"


def write_reference(reference: TrainingReference, project_dir: Path) -> Path:
    """Write atomically (temp file, then rename), so a reader never sees half a profile."""
    path = reference_path(project_dir, reference.task, reference.model_version)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(reference.to_dict()), encoding="utf-8")
    os.replace(temporary, path)
    return path


def read_reference(project_dir: Path, task: str, version: str) -> TrainingReference | None:
    """The stored profile of ``task`` v``version``, None when none is stored; ValueError naming the file if unreadable."""
    path = reference_path(project_dir, task, version)
    try:
        return TrainingReference.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"drift reference {path}: not a readable profile ({type(error).__name__}: {error})") from None


def unknown_share(features: pd.DataFrame, as_of: date, data_end: date) -> float | None:
    """Share of members whose first purchase is on/after ``data_end`` (None without ``tenure_days``)."""
    if TENURE not in features.columns:
        return None
    if features.empty:
        return 0.0
    return float((features[TENURE] <= (as_of - data_end).days).mean())


@dataclass(frozen=True)
class TrainingDrift:
    """Per champion task: its reference version, data end and drift report, or why it has none to compare with."""

    versions: dict[str, str] = field(default_factory=dict)
    data_ends: dict[str, date] = field(default_factory=dict)
    reports: dict[str, DriftReport] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)

    def breaches(self) -> list[str]:
        """One plain line per threshold crossed, naming the task and version (no member ids)."""
        return [f"{task} v{self.versions[task]}: {line}" for task, report in self.reports.items()
                for line in report.breaches()]


def training_drift(features: pd.DataFrame, scores: pd.DataFrame, as_of: date, versions: Mapping[str, str],
                   project_dir: Path, rules: DriftRules, run_ids: Mapping[str, str] | None = None) -> TrainingDrift:
    """Drift of a snapshot (``features``, as of ``as_of``, and its ``scores``) from each champion's training data.

    ``versions`` maps each task a champion serves to its model version (a baseline has no training
    data: leave it out); ``run_ids``, when known, must match the stored profiles' runs. Features
    and scores are matched by column name (any index; rows need not be aligned).
    """
    result = TrainingDrift()
    for task, version in versions.items():
        reference = _usable(read_reference(project_dir, task, version), task, version, (run_ids or {}).get(task))
        if isinstance(reference, str):
            result.unavailable[task] = reference
            continue
        on_features = compare(reference.features, features, rules,
                              unknown_share=unknown_share(features, as_of, reference.data_end))
        on_scores = compare(reference.scores, scores, rules)
        result.versions[task], result.data_ends[task] = version, reference.data_end
        result.reports[task] = DriftReport(columns=on_features.columns + on_scores.columns,
                                           unknown_share=on_features.unknown_share,
                                           unknown_level=on_features.unknown_level)
    return result


def _usable(reference: TrainingReference | None, task: str, version: str, run_id: str | None) -> TrainingReference | str:
    """The reference, or why it cannot be compared with."""
    if reference is None:
        return (f"no training profile stored for {task} v{version} (trained before profiles were kept: "
                "retrain to compare with its training data)")
    if run_id is not None and reference.run_id != run_id:
        return (f"the stored profile of {task} v{version} is from run {reference.run_id}, the served model from "
                f"run {run_id}: not compared")
    return reference
