"""What the running service serves: champion models and the newest snapshot, swapped as one.

Snapshots are data and models are artefacts; both change while the service runs (``memberscore
snapshot`` daily; the MLflow ``champion`` alias after ``train``, ``promote`` or ``rollback``). Every request reads one immutable
``Served`` object, and a refresh builds a new one beside it and swaps the reference, so an
in-flight request never sees half of a change. A model or snapshot that fails to load is refused
with its error recorded, and the previous one keeps serving. So is a snapshot that shrank (far
fewer members than the one it would replace, e.g. built from a partial file) unless it was
written as an intended shrink (``memberscore snapshot --allow-shrink``).

A ``LiveState`` serves one project: its snapshot directory and its models, nothing of another's.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import xgboost as xgb

from features.data_key import DataKey
from features.project import DEFAULT_PROJECT
from features.snapshot import Snapshot
from features.store import SnapshotFacts, latest_snapshot_path, previous_snapshot_path, read_snapshot, snapshot_facts
from models import catalog
from models.baselines import SERVED_BY_BASELINE, baseline_name
from models.tasks import TASK_NAMES
from serving.artefacts import LoadedSnapshot, ServingModel, load_model, stored_tag
from serving.lookup import member_lookup
from serving.scope import home_stores_by_id
from serving.scoring import index_by_member, score_frame

log = logging.getLogger(__name__)

REQUIRED_TASK = "churn"
DEFAULT_MIN_SNAPSHOT_RATIO = 0.5


@dataclass(frozen=True)
class Served:
    """One consistent pair of models and snapshot, and why the service is not ready if it is not."""

    models: Mapping[str, ServingModel] = field(default_factory=dict)
    snapshot: LoadedSnapshot | None = None
    problems: tuple[str, ...] = ()
    model_keys: Mapping[str, str] = field(default_factory=dict)
    snapshot_key: tuple[Path, int] | None = None
    project: str = DEFAULT_PROJECT

    @property
    def boosters(self) -> dict[str, xgb.Booster]:
        return {task: model.booster for task, model in self.models.items()}

    @property
    def ready(self) -> bool:
        """A snapshot, and churn scores in it: the churn champion's or, without one, its baseline's."""
        return self.snapshot is not None and self.snapshot.serves(REQUIRED_TASK, self.models)

    def versions(self) -> dict[str, str]:
        """What scores each task: the champion's MLflow version, or ``baseline:<name>``."""
        baselines = {task: f"baseline:{name}" for task, name in (self.snapshot.baselines if self.snapshot else {}).items()}
        return {**baselines, **{task: m.mlflow_version for task, m in self.models.items()}}

    def not_ready_reasons(self) -> list[str]:
        """Plain reasons, first the missing pieces, then load errors."""
        reasons = []
        if REQUIRED_TASK not in self.models and (self.snapshot is None or not self.snapshot.serves(REQUIRED_TASK, {})):
            reasons.append(f"no champion for {catalog.model_name(REQUIRED_TASK, project=self.project)} and no churn "
                           f"baseline in the snapshot: run `memberscore train --project {self.project}`")
        if self.snapshot is None:
            reasons.append(f"no feature snapshot for project {self.project}: run `memberscore train` or "
                           "`memberscore snapshot`")
        return reasons + list(self.problems)


ModelLoader = Callable[[str], ServingModel]


class LiveState:
    """Polls one project's champion aliases in MLflow and its snapshot directory; ``current()`` never
    waits for another refresh.

    A moved alias (``train``, ``promote``, ``rollback``) is picked up at the next poll: the version
    it names is loaded from the BentoML cache (imported first if needed) off the request path.

    At most one thread refreshes at a time; the others keep answering from the previous ``Served``.
    With ``background`` (the service), a due poll runs in its own thread and the request that
    noticed it is answered at once: a new snapshot's scores and reasons take seconds to minutes to
    compute, and no request should wait for them. Without it (tests, tools) the poll runs inline.
    ``snapshot_dir`` is the project's own (``features.store.project_snapshot_dir``); a new snapshot
    with fewer than ``min_snapshot_ratio`` of the served one's members is held (see the module).
    ``data_key`` reads encrypted snapshots (``features.encrypted_parquet``).
    """

    def __init__(self, snapshot_dir: Path, poll_seconds: float, load: ModelLoader | None = None,
                 background: bool = False, *, project: str,
                 min_snapshot_ratio: float = DEFAULT_MIN_SNAPSHOT_RATIO, tracking_uri: str | None = None,
                 data_key: DataKey | None = None) -> None:
        self.snapshot_dir, self.poll_seconds, self.background = snapshot_dir, poll_seconds, background
        self.data_key = data_key
        self.project, self.min_snapshot_ratio = project, min_snapshot_ratio
        if load is None:
            catalog.configure_tracking(tracking_uri)  # the registry whose champion alias says what serves
        self.load = load or functools.partial(load_model, project=project)
        self._lock = threading.Lock()
        self._checked_at = -float("inf")
        self._served = Served(project=project)
        self._observed: tuple[dict[str, str | None], tuple[Path, int] | None] | None = None
        self.reload()

    def current(self) -> Served:
        """The served pair; a due poll starts when no one else is refreshing (inline unless ``background``)."""
        if time.monotonic() - self._checked_at >= self.poll_seconds and self._lock.acquire(blocking=False):
            self._checked_at = time.monotonic()  # no second thread for the same poll
            if self.background:
                threading.Thread(target=self._refresh_then_release, name="memberscore-refresh", daemon=True).start()
            else:
                self._refresh_then_release()
        return self._served

    def _refresh_then_release(self) -> None:
        try:
            self._refresh()
        finally:
            self._lock.release()

    def reload(self) -> Served:
        """Look for new models and a new snapshot now (the admin reload endpoint), waiting for a running refresh.

        Unlike a poll, it also retries what was refused and has not changed since (e.g. after a
        transient read error).
        """
        with self._lock:
            self._observed = None
            self._refresh()
        return self._served

    def _refresh(self) -> None:
        """Take what changed in the stores since the last look; on any failure the previous pair keeps serving.

        Unchanged stores are not looked into again, so a refused model is not reloaded, rescored and
        logged at every poll. A store that cannot even be listed (e.g. a ``latest`` file caught
        mid-write) is a problem to report, never an error for the request that happened to poll.
        """
        self._checked_at = time.monotonic()
        previous = self._served
        try:
            tags, snapshot_key = observed = _observe(self.snapshot_dir, self.project)
            if observed == self._observed:
                return
            self._served = self._refreshed(previous, tags, snapshot_key)
            self._observed = observed
            _stop_replaced(previous, self._served)
        except Exception as error:
            problem = f"refresh failed: {type(error).__name__}: {error}".splitlines()[0]
            log.error("%s; the previous models and snapshot keep serving", problem)
            self._served = replace(previous, problems=tuple(dict.fromkeys((*previous.problems, problem))))

    def _refreshed(self, previous: Served, tags: Mapping[str, str | None],
                   snapshot_key: tuple[Path, int] | None) -> Served:
        problems: list[str] = []
        models, model_keys = self._refresh_models(previous, tags, problems)
        snapshot_key = self._unless_shrunk(previous, snapshot_key, problems)
        served = Served(models, previous.snapshot, tuple(problems), model_keys, snapshot_key, self.project)
        if model_keys != previous.model_keys or snapshot_key != previous.snapshot_key:
            served = self._rescored(served, previous)
        return served

    def _refresh_models(self, previous: Served, tags: Mapping[str, str | None],
                        problems: list[str]) -> tuple[dict[str, ServingModel], dict[str, str]]:
        """Each task's newest stored model; a task whose new model fails to load keeps its old one."""
        models, keys = dict(previous.models), dict(previous.model_keys)
        for task, tag in tags.items():
            if tag is None or tag == keys.get(task):
                continue
            try:
                models[task] = self.load(task)
                keys[task] = models[task].key or models[task].name  # what was loaded, should the alias have moved meanwhile
                log.info("serving %s", keys[task])
            except Exception as error:
                problems.append(f"{tag} refused: {type(error).__name__}: {error}".splitlines()[0])
                log.error("model %s refused, previous model keeps serving: %s", tag, error)
        return models, keys

    def _unless_shrunk(self, previous: Served, snapshot_key: tuple[Path, int] | None,
                       problems: list[str]) -> tuple[Path, int] | None:
        """``snapshot_key``, or the one to keep serving when that snapshot shrank without the mark.

        The reference is the served snapshot; at start, when nothing serves yet, the newest older
        snapshot in the store, which then serves instead (a restart must not take what a running
        service would have held).
        """
        if snapshot_key is None or snapshot_key == previous.snapshot_key:
            return snapshot_key
        try:
            facts = snapshot_facts(snapshot_key[0], self.data_key)
        except Exception:
            return snapshot_key
        if previous.snapshot is not None and previous.snapshot_key is not None:
            reference, members = previous.snapshot_key, len(previous.snapshot.features_by_id)
        else:
            older = previous_snapshot_path(self.snapshot_dir, facts.as_of)
            if older is None:
                return snapshot_key
            reference, members = (older, older.stat().st_mtime_ns), snapshot_facts(older, self.data_key).members
        problem = shrink_problem(facts, reference[0], members, self.min_snapshot_ratio)
        if problem is None:
            return snapshot_key
        log.error("%s", problem)
        problems.append(problem)
        return reference

    def _rescored(self, candidate: Served, previous: Served) -> Served:
        """``candidate`` with its snapshot scored by its models; on any failure, ``previous`` with the error.

        A model that cannot score the snapshot (e.g. it expects features the snapshot lacks) is as
        unusable as a corrupt file, so none of the new models is taken.
        """
        if candidate.snapshot_key is None:
            return candidate
        path = candidate.snapshot_key[0]
        try:
            loaded = load_snapshot(path, candidate.boosters, key=self.data_key)
        except Exception as error:
            problem = f"snapshot {path.name} with models {sorted(candidate.model_keys.values())} refused: " \
                      f"{type(error).__name__}: {error}".splitlines()[0]
            log.error("%s; the previous models and snapshot keep serving", problem)
            kept = Served(previous.models, previous.snapshot, (*candidate.problems, problem),
                          previous.model_keys, previous.snapshot_key, self.project)
            if candidate.model_keys == previous.model_keys or candidate.snapshot_key == previous.snapshot_key:
                return kept
            # Both changed: the new snapshot may be fine with the models that serve, and a refused
            # model must not hold back every later snapshot.
            return self._rescored(replace(kept, snapshot_key=candidate.snapshot_key), kept)
        log.info("serving snapshot as of %s (%d members)", loaded.snapshot.as_of, len(loaded.features_by_id))
        return Served(candidate.models, loaded, candidate.problems, candidate.model_keys, candidate.snapshot_key,
                      self.project)


def _stop_replaced(previous: Served, current: Served) -> None:
    """End the reasons fill of a lookup that no longer serves, so it stops taking the requests' CPU."""
    replaced = previous.snapshot.members if previous.snapshot is not None else None
    if replaced is not None and (current.snapshot is None or current.snapshot.members is not replaced):
        replaced.stop()


def shrink_problem(facts: SnapshotFacts, served: Path, served_members: int, min_ratio: float) -> str | None:
    """Why a new snapshot is held against the served one, or None when it may serve.

    A snapshot with fewer than ``min_ratio`` of the served members is far more often a partial
    file than a shop that lost half its members overnight; serving it would answer "unknown" for
    everyone left out. An intended shrink carries the mark and passes.
    """
    if facts.allow_shrink or facts.members >= min_ratio * served_members:
        return None
    return (f"snapshot {facts.path.name} refused: {facts.members:,} members, fewer than {min_ratio:.0%} of the "
            f"{served_members:,} in {served.name}, which keeps serving (an intended shrink: "
            "`memberscore snapshot --allow-shrink`)")


def load_snapshot(path: Path, boosters: Mapping[str, xgb.Booster], lookup: bool = True,
                  key: DataKey | None = None) -> LoadedSnapshot:
    """A stored snapshot with every member scored by ``boosters``, indexed by member id, and (unless
    ``lookup`` is False, e.g. for a one-off target list) every member's top reasons, computed in the
    background (``serving.lookup``).
    An encrypted snapshot needs its data ``key``."""
    snapshot = read_snapshot(path, key)
    inputs = snapshot.model_inputs()
    scores = score_frame(boosters, inputs, snapshot.profile, snapshot.as_of)
    features_by_id, scores_by_id = index_by_member(inputs), index_by_member(scores)
    members = member_lookup(boosters, scores_by_id, features_by_id) if lookup else None
    return LoadedSnapshot(snapshot, features_by_id, scores_by_id, members, serving_baselines(boosters, snapshot, scores),
                          home_stores_by_id(snapshot))


def serving_baselines(boosters: Mapping[str, xgb.Booster], snapshot: Snapshot, scores: pd.DataFrame) -> dict[str, str]:
    """Each task without a champion whose baseline has scores in the snapshot, and that baseline's name."""
    return {task: baseline_name(task, snapshot.profile) for task, served in SERVED_BY_BASELINE.items()
            if task not in boosters and scores[next(iter(served))].notna().any()}


def _observe(snapshot_dir: Path, project: str) -> tuple[dict[str, str | None], tuple[Path, int] | None]:
    """What the project's stores hold now: each task's champion (``stored_tag``) and the newest snapshot's key."""
    return {task: stored_tag(task, project=project) for task in TASK_NAMES}, _snapshot_key(snapshot_dir)


def _snapshot_key(directory: Path) -> tuple[Path, int] | None:
    path = latest_snapshot_path(directory)
    if path is None:
        return None
    try:
        return path, path.stat().st_mtime_ns
    except FileNotFoundError:  # replaced between listing and stat: the next poll sees the new file
        return None
