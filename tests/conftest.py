"""Shared fixtures: seeded synthetic transactions, isolated MLflow/BentoML/snapshot stores.

BentoML resolves its home once per process, so one temporary BENTOML_HOME is set for the whole
run in ``pytest_configure``; MLflow and the snapshot store are isolated per fixture.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest

from features.simulate import simulate_transactions

if TYPE_CHECKING:
    from training.config import TrainConfig
    from training.pipeline import TrainResult

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"  # small committed samples (tests/data/README.md)
BUNDLED_DATA = REPO / "data"  # the demo's data, shipped with the code
SHARED_DATA = Path(os.environ.get("MEMBERSCORE_SHARED_DATA") or REPO.parent / "shared" / "data")
SIM_START = date(2023, 1, 1)
SIM_DAYS = 540


# Hypothesis profiles: `fast` while working (make test-fast), `full` in make test and CI. A test's
# own example count is its size today; ``examples`` scales it by the profile.
HYPOTHESIS_SCALE = {"fast": 0.5, "full": 1.0}
FAST_ONLY = "not slow"  # the marker expression of `make test-fast`


def pytest_configure(config: pytest.Config) -> None:
    # one BentoML store per pytest-xdist worker: a store shared by the workers lets one worker's
    # imported models serve in another worker's in-process service
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker or "BENTOML_HOME" not in os.environ:
        os.environ["BENTOML_HOME"] = tempfile.mkdtemp(prefix=f"memberscore-bentoml-{worker or 'main'}-")
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")
    os.environ.setdefault("MEMBERSCORE_KPIS_WITH_SNAPSHOT", "false")  # seconds per snapshot; tests/serving/test_cli_kpis.py turns it on
    # every in-process service writes an audit log: in a temporary folder, never the checkout's var/
    os.environ.setdefault("MEMBERSCORE_AUDIT_LOG", str(Path(tempfile.mkdtemp(prefix="memberscore-audit-")) / "audit.log"))
    _load_hypothesis_profile(config)


SLOW_AS_A_WHOLE = re.compile(r"^pytestmark = .*\bpytest\.mark\.slow\b", re.MULTILINE)


def slow_as_a_whole(path: Path) -> bool:
    """Whether a test file marks every test in it slow (a module-level ``pytestmark`` with slow)."""
    return bool(SLOW_AS_A_WHOLE.search(path.read_text(encoding="utf-8")))


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under exactly ``-m "not slow"`` a file that is slow as a whole is not imported at all.

    Every test in it would be deselected; importing it (Spark, Playwright, servers' helpers) cost
    each worker about 4 s of collection. None: pytest's own rules decide.
    """
    if (config.option.markexpr or "").strip() != FAST_ONLY:
        return None
    if collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    return True if slow_as_a_whole(collection_path) else None


@pytest.hookimpl(tryfirst=True)  # before pytest's own hook deselects by mark (-m "not slow")
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs the session's trained store is slow; files with a ``minutes`` test run
    first, each file's tests still together and in order.

    The ``trained`` fixture trains and snapshots a model (about 17 s, once per worker): a fast run
    that touched it paid that twice, a quarter of ``make test-fast``'s goal.

    pytest-xdist (``--dist loadfile --no-loadscope-reorder``, the Makefile) hands out files in
    collection order; a file of several minutes handed out late (the Spark cluster's: one test, so
    last in xdist's own most-tests-first order) kept one worker busy alone for its whole length
    while the other had finished. Longest first, the two workers end together.
    """
    for item in items:
        if "trained" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
    first = {item.path for item in items if item.get_closest_marker("minutes")}
    items.sort(key=lambda item: item.path not in first)  # stable: the order within each group is kept


def _load_hypothesis_profile(config: pytest.Config) -> None:
    """HYPOTHESIS_PROFILE when set, else ``fast`` under a marker expression that leaves out slow
    tests (``-m "not slow"``) and ``full`` otherwise; exported so ``examples`` sees the choice."""
    from hypothesis import settings

    for name, scale in HYPOTHESIS_SCALE.items():
        settings.register_profile(name, max_examples=max(1, round(100 * scale)), deadline=None)
    chosen = os.environ.get("HYPOTHESIS_PROFILE") or ("fast" if FAST_ONLY in (config.option.markexpr or "") else "full")
    if chosen not in HYPOTHESIS_SCALE:
        raise pytest.UsageError(f"HYPOTHESIS_PROFILE: expected one of {sorted(HYPOTHESIS_SCALE)}, got {chosen!r}")
    os.environ["HYPOTHESIS_PROFILE"] = chosen
    settings.load_profile(chosen)


def examples(size: int) -> int:
    """``size`` Hypothesis examples scaled by the active profile (at least 5): fewer in fast, more in full."""
    return max(5, round(size * HYPOTHESIS_SCALE[os.environ.get("HYPOTHESIS_PROFILE", "full")]))


def train_churn(transactions: pd.DataFrame, config: TrainConfig, load_report: dict[str, Any] | None = None, *,
                project: str) -> TrainResult:
    """The churn task alone through ``training.pipeline.train_tasks``: most pipeline tests need one task."""
    from training.churn import Churn
    from training.pipeline import train_tasks

    return train_tasks(transactions, config, [Churn()], load_report, project=project).results[0]


def shared_dataset(relative: str) -> Path:
    """A real dataset: committed under tests/data, bundled under data/, or in ../shared/data.

    Not found: the test skips with the reason on a developer's machine, and fails under CI=true,
    so a golden test can never pass in CI by not running.
    """
    for root in (TEST_DATA, BUNDLED_DATA, SHARED_DATA):
        if (root / relative).exists():
            return root / relative
    reason = f"real dataset {relative} is in none of {TEST_DATA}, {BUNDLED_DATA}, {SHARED_DATA} (MEMBERSCORE_SHARED_DATA)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true: a missing dataset fails the test", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def synthetic() -> tuple[pd.DataFrame, pd.DataFrame]:
    """800 simulated members over 540 days with categories and returns: (transactions, truth)."""
    return simulate_transactions(800, SIM_START, SIM_DAYS, seed=3)


@dataclass(frozen=True)
class Stores:
    root: Path
    tracking_uri: str
    snapshots: Path  # MEMBERSCORE_SNAPSHOT_DIR: one directory per project below it

    @property
    def project_snapshots(self) -> Path:
        """The default project's snapshots, where the trained fixture writes its snapshot."""
        from features.project import DEFAULT_PROJECT
        from features.store import project_snapshot_dir

        return project_snapshot_dir(self.snapshots, DEFAULT_PROJECT)


@functools.cache
def _empty_mlflow_database() -> Path:
    """An initialised, empty MLflow SQLite store, built once per test process.

    MLflow runs its schema migrations on every new database (about 7 s on 2 busy cores), and each
    test wants a store of its own: copying this file gives the same empty store in milliseconds.
    """
    from mlflow import MlflowClient

    directory = Path(tempfile.mkdtemp(prefix="memberscore-mlflow-template-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    database = directory / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{database}").search_experiments()
    return database


def fresh_mlflow_store(database: Path) -> str:
    """Place an empty MLflow store at ``database`` (a new SQLite file path); returns its tracking URI."""
    database.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_empty_mlflow_database(), database)
    return f"sqlite:///{database}"


def _isolated_stores(root: Path, monkeypatch: pytest.MonkeyPatch) -> Stores:
    stores = Stores(root, fresh_mlflow_store(root / "mlruns" / "mlflow.db"), root / "snapshots")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", stores.tracking_uri)
    monkeypatch.setenv("MEMBERSCORE_SNAPSHOT_DIR", str(stores.snapshots))
    return stores


@pytest.fixture
def stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stores:
    """A fresh MLflow store and snapshot directory for one test (never the developer's mlruns/)."""
    from models import catalog

    isolated = _isolated_stores(tmp_path, monkeypatch)
    catalog.configure_tracking(os.environ.get("MLFLOW_TRACKING_URI"))
    return isolated


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> Iterator[Stores]:
    """One churn model trained on the synthetic data, champion, imported and snapshotted (with the
    serving baselines, as ``memberscore train`` writes it), per run.

    The environment points at its stores only while a test uses this fixture.
    """
    from features.project import DEFAULT_PROJECT
    from features.snapshot import build_snapshot
    from features.store import write_snapshot
    from models import catalog
    from serving.artefacts import import_champion
    from training import registry
    from training.config import TrainConfig
    from training.serving_baselines import with_serving_baselines

    with pytest.MonkeyPatch.context() as monkeypatch:
        isolated = _isolated_stores(tmp_path_factory.mktemp("trained"), monkeypatch)
        catalog.configure_tracking(os.environ.get("MLFLOW_TRACKING_URI"))
        transactions, _ = synthetic
        config = TrainConfig(horizon_days=60, n_train_cutoffs=4)
        result = train_churn(transactions, config, project=DEFAULT_PROJECT)
        # The simulation is a BG/NBD process: the gate keeps BG/NBD's P(no purchase in H) for churn
        # (the model does not beat it beyond noise). The serving tests need a served model, so the
        # trained version is made champion by hand, as an operator would.
        assert result.decision.promote or "bgnbd" in result.decision.reason, result.decision.reason
        registry.set_alias("churn", catalog.CHAMPION, result.version, project=DEFAULT_PROJECT)
        import_champion("churn", project=DEFAULT_PROJECT)
        end = transactions["ts"].max().date()
        snapshot = with_serving_baselines(transactions, build_snapshot(transactions, end), config)  # as the CLI writes it
        write_snapshot(snapshot, isolated.project_snapshots)
    yield isolated


@pytest.fixture
def use_trained(trained: Stores, monkeypatch: pytest.MonkeyPatch) -> Stores:
    """Point this test's environment (and MLflow) at the session's trained stores."""
    from features.project import DEFAULT_PROJECT
    from models import catalog

    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained.tracking_uri)
    monkeypatch.setenv("MEMBERSCORE_SNAPSHOT_DIR", str(trained.snapshots))
    catalog.configure_tracking(os.environ.get("MLFLOW_TRACKING_URI"))
    _cache_only_the_registrys_champions(DEFAULT_PROJECT)
    return trained


def _cache_only_the_registrys_champions(project: str) -> None:
    """Make this process's BentoML store hold, for ``project``, exactly the current registry's champions.

    Earlier test files in the same worker may have imported models of the same project from stores
    of their own; a task the registry has no champion for would otherwise serve such a model (the
    service's fallback for a built Bento without MLflow), as a deployment fresh from this registry
    never would.
    """
    import bentoml

    from models import catalog
    from models.tasks import TASK_NAMES
    from serving.artefacts import import_champion

    for task in TASK_NAMES:
        if catalog.alias_version(task, catalog.CHAMPION, project=project):
            import_champion(task, project=project)
            continue
        try:
            cached = bentoml.models.list(catalog.model_name(task, project=project))
        except bentoml.exceptions.NotFound:
            continue
        for stored in cached:
            bentoml.models.delete(stored.tag)


# The tests' JVMs (the local Spark session, the standalone cluster's daemons, driver and executors)
# are short-lived and share two cores with the test workers: HotSpot's optimising compiler and
# parallel collector threads cost more CPU than they return in such runs. With the client compiler
# only and the serial collector the Spark cluster test took 187 s of CPU instead of 338 s.
SPARK_TEST_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """A local Spark session on two cores, started once per test process (pytest-xdist worker) by
    the first test that asks for it and stopped when the run ends.

    Once per module, the six Spark test files started six JVMs: about 10 s each on two busy cores.
    Its JVM runs with the client compiler only and a single-threaded collector (``SPARK_TEST_JVM_OPTIONS``).
    """
    from features.spark import spark_session

    with pytest.MonkeyPatch.context() as monkeypatch:  # read by the java launcher: this session's JVM only
        monkeypatch.setenv("JDK_JAVA_OPTIONS", SPARK_TEST_JVM_OPTIONS)
        session = spark_session("local[2]", app_name="memberscore-tests")
    try:
        yield session
    finally:
        session.stop()
