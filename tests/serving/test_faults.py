"""The service under faults and load (issue 6, part 2): it keeps serving what it has and says why.

In-process tests drive ``serving.live.LiveState`` with a scripted model store; the rest start ONE
real server on loopback with a BentoML home of its own (so model versions added here never reach
the session's shared store) and take it through: no champion (503 with the reason), a champion
imported without restart, a corrupt and an incompatible model version (refused, the old one keeps
serving), a model refused at promotion, the MLflow store gone, and a bounded load run with a
champion reload midway.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import xgboost as xgb

from features.offer_lists import decode_offers
from features.project import DEFAULT_PROJECT
from features.store import latest_snapshot_path, read_snapshot
from serving.artefacts import ServingModel
from tests.conftest import fresh_mlflow_store
from tests.serving.conftest import API_KEY, REPO, RunningServer, start_server, stop
from tests.serving.load_run import LoadRun, Midway, run_load, server_rss_mb
from tests.serving.model_versions import (
    NAME,
    UNKNOWN_FEATURE,
    add_version,
    incompatible_booster_file,
    read_model_yaml,
    strip_baselines,
    tiny_booster,
    trained_champion,
    write_newer_snapshot,
)

LOAD_REQUESTS, LOAD_CLIENTS, WARMUP_REQUESTS = 2_000, 8, 200
RSS_GROWTH_BOUND_MB = 150.0


# --- LiveState in process, with a scripted store ----------------------------------------------------

@dataclass
class ScriptedStore:
    """Stands in for the BentoML store: ``tags`` is what it lists, ``load`` what loading gives."""

    boosters: dict[str, xgb.Booster]
    tags: dict[str, str | None] = field(default_factory=lambda: {"churn": "good"})
    loads: Counter = field(default_factory=Counter)

    def stored_tag(self, task: str, *, project: str) -> str | None:
        assert project == DEFAULT_PROJECT
        return self.tags.get(task)

    def load(self, task: str) -> ServingModel:
        tag = self.tags[task]
        self.loads[tag] += 1
        if tag not in self.boosters:
            raise ValueError(f"{tag}: not a model file")
        return ServingModel(name=tag, booster=self.boosters[tag], mlflow_version=tag, run_id=tag, metrics={})


@pytest.fixture
def scripted(trained: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ScriptedStore, Path]:
    import mlflow.xgboost

    from serving import live

    snapshots = shutil.copytree(trained.project_snapshots, tmp_path / "snapshots")
    good = mlflow.xgboost.load_model(str(trained_champion(trained) / "mlflow_model"))
    store = ScriptedStore({"good": good, "incompatible": tiny_booster(["recency_days", UNKNOWN_FEATURE])})
    monkeypatch.setattr(live, "stored_tag", store.stored_tag)
    return store, snapshots


@pytest.mark.slow
def test_a_refused_model_is_not_reloaded_at_every_poll(scripted: tuple[ScriptedStore, Path]) -> None:
    """A corrupt latest version is tried once, stays reported, and only an explicit reload retries it."""
    from serving.live import LiveState

    store, snapshots = scripted
    state = LiveState(snapshots, poll_seconds=0.0, load=store.load, project=DEFAULT_PROJECT)
    store.tags["churn"] = "corrupt"
    polled = [state.current() for _ in range(5)][-1]
    assert store.loads["corrupt"] == 1
    assert polled.ready and polled.models["churn"].name == "good"
    assert polled.problems == ("corrupt refused: ValueError: corrupt: not a model file",)
    state.reload()
    assert store.loads["corrupt"] == 2


@pytest.mark.slow
def test_a_store_that_cannot_be_listed_keeps_the_pair_serving(scripted: tuple[ScriptedStore, Path],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Listing the store raises (unreadable, or a ``latest`` file caught mid-write): no request fails."""
    from serving import live

    store, snapshots = scripted
    state = live.LiveState(snapshots, poll_seconds=0.0, load=store.load, project=DEFAULT_PROJECT)

    def unreadable(task: str, *, project: str) -> str:
        raise PermissionError(f"models/{task}/latest")

    monkeypatch.setattr(live, "stored_tag", unreadable)
    polled = [state.current() for _ in range(3)][-1]
    assert polled.ready and polled.models["churn"].name == "good"
    assert polled.problems == ("refresh failed: PermissionError: models/churn/latest",)


@pytest.mark.slow
def test_a_refused_model_does_not_hold_back_a_newer_snapshot(scripted: tuple[ScriptedStore, Path]) -> None:
    """An incompatible model and a new snapshot land together: the snapshot serves with the old model."""
    from serving.live import LiveState

    store, snapshots = scripted
    state = LiveState(snapshots, poll_seconds=0.0, load=store.load, project=DEFAULT_PROJECT)
    store.tags["churn"] = "incompatible"
    newer = write_newer_snapshot(snapshots)
    served = state.current()
    assert served.models["churn"].name == "good"
    assert served.snapshot.snapshot.as_of.isoformat() == newer
    assert any(UNKNOWN_FEATURE in problem for problem in served.problems), served.problems


@pytest.mark.slow
def test_a_background_refresh_never_holds_a_request(scripted: tuple[ScriptedStore, Path]) -> None:
    """The service's mode: while a new model loads (and the snapshot is rescored), requests get the old pair."""
    import threading

    from serving.live import LiveState

    store, snapshots = scripted
    state = LiveState(snapshots, poll_seconds=0.0, load=store.load, background=True, project=DEFAULT_PROJECT)
    release, started = threading.Event(), threading.Event()
    store.boosters["newer"] = store.boosters["good"]
    scripted_load = store.load

    def slow_load(task: str) -> ServingModel:
        started.set()
        release.wait(30)
        return scripted_load(task)

    state.load = slow_load
    store.tags["churn"] = "newer"
    began = time.monotonic()
    first = state.current()
    assert first.models["churn"].name == "good"
    assert started.wait(10), "the poll started a refresh"
    assert all(state.current().models["churn"].name == "good" for _ in range(20))
    assert time.monotonic() - began < 5, "no request waited for the load"
    release.set()
    deadline = time.monotonic() + 30
    while state.current().models["churn"].name != "newer" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state.current().models["churn"].name == "newer"
    assert state.current().snapshot.members is not None, "the service serves /score from the lookup"
    assert first.snapshot.members.stopped.is_set(), "the replaced lookup's reasons fill was told to stop"
    assert not state.current().snapshot.members.stopped.is_set()


def test_without_a_churn_champion_the_snapshots_churn_rule_serves(scripted: tuple[ScriptedStore, Path]) -> None:
    """A baseline is a valid champion: no churn model, yet ready; churn is the snapshot's chosen rule, and says so."""
    from models.baselines import CHURN_COLUMN
    from serving.live import LiveState

    store, snapshots = scripted
    store.tags["churn"] = None
    served = LiveState(snapshots, poll_seconds=3600, load=store.load, project=DEFAULT_PROJECT).current()
    assert served.ready and not served.models and served.not_ready_reasons() == []
    profile = served.snapshot.snapshot.profile.set_index("member_id")
    churn_rule = profile["baseline_churn_rule"].iloc[0]
    assert churn_rule in ("rfm_rule", "recency_over_gap", "bgnbd")  # issue 14: BG/NBD is among the rules
    assert served.versions() == {"churn": f"baseline:{churn_rule}", "next_purchase": "baseline:bgnbd",
                                 "upsell": "baseline:popular_new_categories", "value": "baseline:bgnbd"}
    ids = list(profile.index[:25].astype(str))
    results = served.snapshot.members.scores(ids, 3)
    assert [r.churn_probability for r in results] == pytest.approx(list(profile.loc[ids, CHURN_COLUMN]))
    # issue 15: the answer's offers are lists, the snapshot keeps one JSON array per member
    assert [r.upsell_categories for r in results] == [decode_offers(o) for o in profile.loc[ids, "baseline_upsell_categories"]]
    assert all(r.reasons == [] and r.model_reasons == {} for r in results), "a rule has no SHAP reasons"


# --- check at promotion (pure) ---------------------------------------------------------------------

@pytest.mark.parametrize(("names", "message"), [
    (["recency_days", UNKNOWN_FEATURE], UNKNOWN_FEATURE),
    (None, "names no features"),
])
def test_check_servable_refuses_unknown_or_unnamed_features(names: list[str] | None, message: str) -> None:
    from serving.artefacts import check_servable

    booster = tiny_booster(names or ["f0", "f1"])
    if names is None:
        booster.feature_names = None
    with pytest.raises(ValueError, match=message):
        check_servable(booster)


def test_check_servable_accepts_catalogue_features_and_category_shares() -> None:
    from serving.artefacts import check_servable

    check_servable(tiny_booster(["recency_days", "spend_90d", "share_bakery"]))


# --- one real server through every fault ------------------------------------------------------------

@dataclass
class Stack:
    """The server and the stores it reads, with what it answered before it had a champion."""

    server: RunningServer
    home: Path
    snapshots: Path
    mlruns: Path
    champion: Path
    members: list[str]
    without_champion: dict[str, httpx.Response]
    reload_with_champion: httpx.Response


def observe_without_champion(http: httpx.Client, member: str) -> dict[str, httpx.Response]:
    return {
        "readyz": http.get("/readyz"), "metadata": http.get("/metadata"),
        "score": http.post("/score", json={"member_ids": [member]}),
        "score_features": http.post("/score_features", json={"rows": [{"features": {"recency_days": 3.0}}]}),
        "explain": http.post("/explain", json={"member_id": member}),
        "targets": http.post("/targets", json={"campaign": "winback"}),
    }


def without_champion_aliases(tracking_uri: str) -> None:
    """Remove every champion alias: the registry names none, so the service serves the BentoML store's
    newest model (a built Bento without MLflow), the store these faults are planted in (issue 15:
    with a champion alias, the alias decides)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from models import catalog
    from models.tasks import TASK_NAMES

    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    for task in TASK_NAMES:
        name = catalog.model_name(task, project=DEFAULT_PROJECT)
        try:
            client.delete_registered_model_alias(name, catalog.CHAMPION)
        except MlflowException:
            pass  # the task has no registered model
        assert not client.get_registered_model(name).aliases.get(catalog.CHAMPION) if task == "churn" else True


@pytest.fixture(scope="module")
def stack(trained: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Start with a snapshot without baselines and an empty model store, record the 503s, then import
    the champion and reload."""
    root = tmp_path_factory.mktemp("faults")
    home, mlruns = root / "bentoml", shutil.copytree(trained.root / "mlruns", root / "mlruns")
    without_champion_aliases(f"sqlite:///{mlruns / 'mlflow.db'}")
    (home / "models").mkdir(parents=True)
    snapshots = shutil.copytree(trained.snapshots, root / "snapshots") / DEFAULT_PROJECT
    strip_baselines(snapshots)
    members = [str(m) for m in read_snapshot(latest_snapshot_path(snapshots)).frame["member_id"].iloc[:40]]
    env = {"BENTOML_HOME": str(home), "MEMBERSCORE_SNAPSHOT_DIR": str(snapshots.parent), "MEMBERSCORE_API_KEYS": API_KEY,
           "MLFLOW_TRACKING_URI": f"sqlite:///{mlruns / 'mlflow.db'}", "MEMBERSCORE_POLL_SECONDS": "1"}
    server = start_server(root, env, wait_for=503)
    try:
        champion = trained_champion(trained)
        with httpx.Client(base_url=server.base, timeout=60, headers={"X-API-Key": API_KEY}) as http:
            without = observe_without_champion(http, members[0])
            add_version(home, champion, read_model_yaml(champion)["labels"])
            reloaded = http.post("/admin/reload")
        yield Stack(server, home, snapshots, mlruns, champion, members, without, reloaded)
    finally:
        stop(server.process)


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.server.base, timeout=60, headers={"X-API-Key": API_KEY}) as client:
        yield client


def churn_scores(http: httpx.Client, members: list[str]) -> dict[str, float]:
    response = http.post("/score", json={"member_ids": members, "explain": 0})
    assert response.status_code == 200, response.text[:300]
    return {r["member_id"]: r["churn_probability"] for r in response.json()["results"]}


def served_model(http: httpx.Client) -> tuple[str, str]:
    """(BentoML tag, MLflow version) of the churn model serving now."""
    body = http.get("/metadata").json()
    return body["model_name"], body["model_version"]


@pytest.mark.integration
@pytest.mark.slow
def test_without_a_champion_it_starts_and_every_data_route_says_why(stack: Stack) -> None:
    """A snapshot without baselines and no model: /readyz 503 with the reason; every data route 503 with it too."""
    answers = stack.without_champion
    reason = f"no champion for {NAME}"
    readyz = answers["readyz"].json()
    assert answers["readyz"].status_code == 503 and readyz["ready"] is False
    assert any(r.startswith(reason) for r in readyz["reasons"]) and readyz["snapshot_as_of"] is not None
    for route in ("score", "score_features", "explain", "targets"):
        assert answers[route].status_code == 503, (route, answers[route].text[:300])
        assert reason in answers[route].text, (route, answers[route].text[:300])
    assert answers["metadata"].status_code == 200 and answers["metadata"].json()["ready"] is False


@pytest.mark.integration
@pytest.mark.slow
def test_a_champion_imported_later_serves_after_a_reload_without_restart(stack: Stack, http: httpx.Client) -> None:
    reloaded = stack.reload_with_champion
    assert reloaded.status_code == 200 and reloaded.json()["ready"] is True, reloaded.text[:300]
    assert reloaded.json()["models"]["churn"].startswith(f"{NAME}:")
    assert all(p is not None for p in churn_scores(http, stack.members[:5]).values())


def assert_refused_and_unchanged(http: httpx.Client, stack: Stack, tag: str, before: tuple[tuple[str, str], dict],
                                 named: str) -> None:
    """``tag`` is reported as refused (reload answer, /readiness, log); model and scores are as ``before``."""
    reloaded = http.post("/admin/reload")
    assert reloaded.status_code == 200, reloaded.text[:300]
    refusals = [r for r in http.get("/readiness").json()["reasons"] if tag in r and "refused" in r]
    assert refusals and named in refusals[0], http.get("/readiness").text[:500]
    assert any(tag in r for r in reloaded.json()["reasons"])
    assert (served_model(http), churn_scores(http, stack.members)) == before
    assert tag in stack.server.log() and "refused" in stack.server.log()


@pytest.mark.integration
@pytest.mark.slow
def test_a_corrupt_model_version_is_refused_and_the_old_one_keeps_serving(stack: Stack, http: httpx.Client) -> None:
    before = served_model(http), churn_scores(http, stack.members)
    tag = add_version(stack.home, stack.champion, {"mlflow_version": "97", "run_id": "corrupt"},
                      booster_file=b"this is not an XGBoost model\x00\x01\x02")
    assert_refused_and_unchanged(http, stack, tag, before, "refused")


@pytest.mark.integration
@pytest.mark.slow
def test_an_incompatible_model_is_refused_yet_a_newer_snapshot_serves(stack: Stack, http: httpx.Client) -> None:
    """A booster expecting a feature the snapshot lacks loads, fails to score, and is refused; the next
    day's snapshot is still taken, with the old model."""
    before = served_model(http), churn_scores(http, stack.members)
    tag = add_version(stack.home, stack.champion, {"mlflow_version": "98", "run_id": "incompatible"},
                      booster_file=incompatible_booster_file())
    assert_refused_and_unchanged(http, stack, tag, before, UNKNOWN_FEATURE)
    newer = write_newer_snapshot(stack.snapshots)
    assert http.post("/admin/reload").status_code == 200
    assert http.get("/metadata").json()["snapshot_as_of"] == newer
    assert (served_model(http), churn_scores(http, stack.members)) == before


PROMOTE_UNSERVABLE = r'''
import json, os, sys
import numpy as np, pandas as pd, xgboost as xgb
from models import catalog
from training import registry
from serving.artefacts import import_champion, stored_tag

catalog.configure_tracking(os.environ.get("MLFLOW_TRACKING_URI"))
names = ["recency_days", sys.argv[1]]
frame = pd.DataFrame(np.random.default_rng(0).uniform(0, 100, (64, 2)), columns=names)
booster = xgb.train({"objective": "binary:logistic", "max_depth": 1, "nthread": 1},
                    xgb.DMatrix(frame.to_numpy(np.float32), label=(frame[names[0]] > 50).astype(float),
                                feature_names=names), 2)
logged = registry.log_run(registry.RunRecord(task="churn", project="default", booster=booster, input_example=frame.head(3), params={},
                                             tags={}, metrics={"oot_model_roc_auc": 0.99}))
registry.set_alias("churn", catalog.CHAMPION, logged.version, project="default")
before = stored_tag("churn", project="default")
try:
    import_champion("churn", project="default")
    outcome = "imported"
except ValueError as error:
    outcome = str(error)
print("RESULT " + json.dumps({"before": before, "after": stored_tag("churn", project="default"), "outcome": outcome}))
'''


@pytest.mark.integration
@pytest.mark.slow
def test_promotion_refuses_a_model_with_unknown_features(stack: Stack, http: httpx.Client, tmp_path: Path) -> None:
    """import_champion (the promotion hop into the BentoML store) checks the model and deletes it again."""
    before = served_model(http), churn_scores(http, stack.members)
    env = {**os.environ, "BENTOML_HOME": str(stack.home), "MLFLOW_TRACKING_URI": fresh_mlflow_store(tmp_path / "mlflow.db")}
    done = subprocess.run([sys.executable, "-c", PROMOTE_UNSERVABLE, UNKNOWN_FEATURE], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    result = json.loads(line.removeprefix("RESULT "))
    assert "not imported" in result["outcome"] and UNKNOWN_FEATURE in result["outcome"], result
    assert result["after"] == result["before"]
    assert http.post("/admin/reload").json()["ready"] is True
    assert (served_model(http), churn_scores(http, stack.members)) == before


@pytest.mark.integration
@pytest.mark.slow
def test_serving_and_reload_outlive_the_mlflow_store(stack: Stack, http: httpx.Client) -> None:
    """The tracking store disappears after start-up: scores still answer, and a new model still loads."""
    before = churn_scores(http, stack.members)
    moved = stack.mlruns.rename(stack.mlruns.with_name("mlruns-gone"))
    try:
        assert churn_scores(http, stack.members) == before
        tag = add_version(stack.home, stack.champion, {"mlflow_version": "99", "run_id": "after-mlflow-gone"})
        reloaded = http.post("/admin/reload")
        assert reloaded.status_code == 200 and reloaded.json()["models"]["churn"] == tag, reloaded.text[:300]
        assert served_model(http) == (tag, "99")
        assert churn_scores(http, stack.members) == before  # same booster, new version
    finally:
        moved.rename(stack.mlruns)


# --- bounded load with a champion reload midway -----------------------------------------------------

def reloading_a_new_champion(stack: Stack) -> Midway:
    """Import a new champion version (the same booster, so answers stay comparable) and reload."""
    def reload(http: httpx.Client, run: LoadRun) -> None:
        run.reload_tag = add_version(stack.home, stack.champion, {"mlflow_version": "load-2", "run_id": "load-2"})
        response = http.post("/admin/reload")
        if response.status_code != 200 or response.json()["models"].get("churn") != run.reload_tag:
            run.failures.append(f"reload {response.status_code} {response.text[:300]}")

    return reload


@pytest.mark.integration
@pytest.mark.slow
def test_load_with_a_reload_midway_has_no_failures_and_bounded_memory(stack: Stack, http: httpx.Client) -> None:
    """2,000 requests from 8 clients, a new champion imported and reloaded midway: zero failed or wrong
    answers, and the server's resident memory grows less than 150 MB from after warm-up to the end."""
    expected = churn_scores(http, stack.members)
    previous_tag, previous_version = served_model(http)
    warmup = run_load(stack.server.base, stack.members, expected, WARMUP_REQUESTS, LOAD_CLIENTS)
    assert warmup.failures == []
    rss_before = server_rss_mb(stack.server.process.pid)
    started = time.perf_counter()
    run = run_load(stack.server.base, stack.members, expected, LOAD_REQUESTS, LOAD_CLIENTS,
                   midway=reloading_a_new_champion(stack))
    elapsed = time.perf_counter() - started
    growth = server_rss_mb(stack.server.process.pid) - rss_before
    print(f"\nload: {LOAD_REQUESTS} requests in {elapsed:.1f}s ({LOAD_REQUESTS / elapsed:.0f}/s), "
          f"versions {dict(run.versions)}, RSS {rss_before:.0f} MB + {growth:.1f} MB")
    assert run.failures == [], run.failures[:10]
    assert run.versions[previous_version] > 0 and run.versions["load-2"] > 0, run.versions
    assert served_model(http) == (run.reload_tag, "load-2") and run.reload_tag != previous_tag
    assert growth < RSS_GROWTH_BOUND_MB, f"RSS grew {growth:.1f} MB"
