"""What the running service serves: champion models and the newest snapshot, swapped as one.

Snapshots are data and models are artefacts; both change while the service runs (``memberscore
snapshot`` daily, ``memberscore train`` after a promotion). Every request reads one immutable
``Served`` object, and a refresh builds a new one beside it and swaps the reference, so an
in-flight request never sees half of a change. A model or snapshot that fails to load is refused
with its error recorded, and the previous one keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import xgboost as xgb

from features.store import latest_snapshot_path, read_snapshot
from serving.artefacts import LoadedSnapshot, ServingModel, load_model, stored_tag
from serving.scoring import index_by_member, score_frame
from training import registry
from training.tasks import TASK_NAMES

log = logging.getLogger(__name__)

REQUIRED_TASK = "churn"


@dataclass(frozen=True)
class Served:
    """One consistent pair of models and snapshot, and why the service is not ready if it is not."""

    models: Mapping[str, ServingModel] = field(default_factory=dict)
    snapshot: LoadedSnapshot | None = None
    problems: tuple[str, ...] = ()
    model_keys: Mapping[str, str] = field(default_factory=dict)
    snapshot_key: tuple[Path, int] | None = None

    @property
    def boosters(self) -> dict[str, xgb.Booster]:
        return {task: model.booster for task, model in self.models.items()}

    @property
    def ready(self) -> bool:
        return REQUIRED_TASK in self.models and self.snapshot is not None

    def not_ready_reasons(self) -> list[str]:
        """Plain reasons, first the missing pieces, then load errors."""
        reasons = []
        if REQUIRED_TASK not in self.models:
            reasons.append(f"no champion for {registry.model_name(REQUIRED_TASK)}: run `memberscore train`")
        if self.snapshot is None:
            reasons.append("no feature snapshot: run `memberscore train` or `memberscore snapshot`")
        return reasons + list(self.problems)


ModelLoader = Callable[[str], ServingModel]


class LiveState:
    """Polls the BentoML model store and the snapshot directory; ``current()`` never blocks on a reload.

    At most one thread refreshes at a time; the others keep answering from the previous ``Served``.
    """

    def __init__(self, snapshot_dir: Path, poll_seconds: float, load: ModelLoader = load_model) -> None:
        self.snapshot_dir, self.poll_seconds, self.load = snapshot_dir, poll_seconds, load
        self._lock = threading.Lock()
        self._checked_at = -float("inf")
        self._served = Served()
        self.reload()

    def current(self) -> Served:
        """The served pair, refreshed first when the poll interval has passed and no one else is refreshing."""
        if time.monotonic() - self._checked_at >= self.poll_seconds and self._lock.acquire(blocking=False):
            try:
                self._refresh()
            finally:
                self._lock.release()
        return self._served

    def reload(self) -> Served:
        """Look for new models and a new snapshot now (the admin reload endpoint), waiting for a running refresh."""
        with self._lock:
            self._refresh()
        return self._served

    def _refresh(self) -> None:
        self._checked_at = time.monotonic()
        previous = self._served
        problems: list[str] = []
        models, model_keys = self._refresh_models(previous, problems)
        snapshot_key = _snapshot_key(self.snapshot_dir)
        served = Served(models, previous.snapshot, tuple(problems), model_keys, snapshot_key)
        if model_keys != previous.model_keys or snapshot_key != previous.snapshot_key:
            served = self._rescored(served, previous)
        self._served = served

    def _refresh_models(self, previous: Served, problems: list[str]) -> tuple[dict[str, ServingModel], dict[str, str]]:
        """Each task's newest stored model; a task whose new model fails to load keeps its old one."""
        models, keys = dict(previous.models), dict(previous.model_keys)
        for task in TASK_NAMES:
            tag = stored_tag(task)
            if tag is None or tag == keys.get(task):
                continue
            try:
                models[task] = self.load(task)
                keys[task] = tag
                log.info("serving %s", tag)
            except Exception as error:  # noqa: BLE001 - any load failure must leave the old model serving
                problems.append(f"{tag} refused: {type(error).__name__}: {error}".splitlines()[0])
                log.error("model %s refused, previous model keeps serving: %s", tag, error)
        return models, keys

    def _rescored(self, candidate: Served, previous: Served) -> Served:
        """``candidate`` with its snapshot scored by its models; on any failure, ``previous`` with the error.

        A model that cannot score the snapshot (e.g. it expects features the snapshot lacks) is as
        unusable as a corrupt file, so nothing of the change is taken.
        """
        if candidate.snapshot_key is None:
            return candidate
        path = candidate.snapshot_key[0]
        try:
            loaded = load_snapshot(path, candidate.boosters)
        except Exception as error:  # noqa: BLE001 - a bad snapshot or model/snapshot mismatch must not stop serving
            problem = f"snapshot {path.name} with models {sorted(candidate.model_keys.values())} refused: " \
                      f"{type(error).__name__}: {error}".splitlines()[0]
            log.error("%s; the previous models and snapshot keep serving", problem)
            return Served(previous.models, previous.snapshot, (*candidate.problems, problem),
                          previous.model_keys, previous.snapshot_key)
        log.info("serving snapshot as of %s (%d members)", loaded.snapshot.as_of, len(loaded.features_by_id))
        return Served(candidate.models, loaded, candidate.problems, candidate.model_keys, candidate.snapshot_key)


def load_snapshot(path: Path, boosters: Mapping[str, xgb.Booster]) -> LoadedSnapshot:
    """A stored snapshot with every member scored by ``boosters``, indexed by member id."""
    snapshot = read_snapshot(path)
    inputs = snapshot.model_inputs()
    scores = score_frame(boosters, inputs, snapshot.profile, snapshot.as_of)
    return LoadedSnapshot(snapshot, index_by_member(inputs), index_by_member(scores))


def _snapshot_key(directory: Path) -> tuple[Path, int] | None:
    path = latest_snapshot_path(directory)
    if path is None:
        return None
    try:
        return path, path.stat().st_mtime_ns
    except FileNotFoundError:  # replaced between listing and stat: the next poll sees the new file
        return None
