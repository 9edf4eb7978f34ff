"""serving.service.MemberScoring called directly, without HTTP (BentoML's testing pattern).

``@bentoml.service`` wraps the class in a ``bentoml.Service``; calling it instantiates the inner
class, whose route methods are then plain Python methods (``/score`` answers JSON bytes).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import time
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import HTTPException

from features.project import DEFAULT_PROJECT
from features.store import latest_snapshot_path, read_snapshot, write_snapshot
from serving.schemas import Metadata, ScoreRequest, ScoreResponse


@pytest.fixture
def service(use_trained: object) -> object:
    from serving.service import MemberScoring

    return MemberScoring()


def score(service: object, member_ids: list[str], explain: int = 3) -> ScoreResponse:
    """The /score route called as a method: its JSON answer, parsed by the contract."""
    answer = asyncio.run(service.score(ScoreRequest(member_ids=member_ids, explain=explain)))
    return ScoreResponse.model_validate_json(answer.body)


def served_snapshot():
    return read_snapshot(latest_snapshot_path(Path(os.environ["MEMBERSCORE_SNAPSHOT_DIR"]) / DEFAULT_PROJECT))


def test_every_route_is_the_fastapi_apps() -> None:
    """One HTTP stack: the Bento has no API of its own; /score and the probes are routes of the mounted app."""
    from serving.service import MemberScoring, web

    assert MemberScoring.apis == {}
    assert [app for app, path, _ in MemberScoring.mount_apps] == [web]
    paths = web.openapi()["paths"]
    assert {"post"} == set(paths["/score"]) and {"get"} == set(paths["/metadata"]) == set(paths["/readyz"])


def test_score_returns_known_and_unknown_in_order(service: object) -> None:
    """score(): per-id results in request order, unknown ids listed, model and snapshot named."""
    snapshot = served_snapshot()
    known = [str(x) for x in snapshot.frame["member_id"].iloc[[5, 0]]]
    response = score(service, [known[0], "nobody", known[1]], explain=2)
    assert isinstance(response, ScoreResponse)
    assert [r.member_id for r in response.results] == [known[0], "nobody", known[1]]
    assert [r.status for r in response.results] == ["scored", "unknown", "scored"]
    assert all(len(r.reasons) == 2 and all(reason.text for reason in r.reasons)
               for r in response.results if r.status == "scored")
    assert response.results[1].churn_probability is None
    assert response.model_version == "1"
    assert response.snapshot_as_of == snapshot.as_of.isoformat()


def test_score_default_explain_is_three(service: object) -> None:
    """Without explain, each scored member gets three reasons."""
    member = str(served_snapshot().frame["member_id"].iloc[0])
    (result,) = score(service, [member]).results
    assert len(result.reasons) == 3


def test_metadata_reports_model_snapshot_and_metrics(service: object) -> None:
    """metadata(): the champion's version and run, the snapshot date, size and fingerprint, OOT metrics."""
    from models import catalog

    snapshot = served_snapshot()
    metadata = service.metadata()
    assert isinstance(metadata, Metadata)
    assert metadata.model_name.startswith("default.memberscore-churn:")
    assert metadata.project == DEFAULT_PROJECT
    assert metadata.model_version == "1"
    assert metadata.mlflow_run_id == catalog.version_run_id("churn", "1", project=DEFAULT_PROJECT)
    assert metadata.snapshot_as_of == snapshot.as_of.isoformat()
    assert metadata.snapshot_members == len(snapshot.frame)
    assert metadata.data_fingerprint == snapshot.fingerprint
    logged = catalog.run_metrics(metadata.mlflow_run_id)
    assert metadata.metrics["oot_model_roc_auc"] == pytest.approx(logged["oot_model_roc_auc"])
    assert metadata.metrics["oot_model_roc_auc"] > 0.7
    assert all(name.startswith("oot_") for name in metadata.metrics)


def test_service_without_a_snapshot_starts_not_ready_and_says_how_to_make_one(
        use_trained: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No snapshot in the store: the service starts, readiness is 503 naming the command, /score is 503."""
    from serving.service import MemberScoring

    monkeypatch.setenv("MEMBERSCORE_SNAPSHOT_DIR", str(tmp_path / "empty"))
    service = MemberScoring()
    readiness = asyncio.run(service.readiness())
    assert readiness.status_code == 503
    body = json.loads(readiness.body)
    assert body["ready"] is False and any("memberscore snapshot" in reason for reason in body["reasons"])
    assert body["models"]["churn"].startswith("default.memberscore-churn:")
    assert body["project"] == DEFAULT_PROJECT
    with pytest.raises(HTTPException) as unready:
        asyncio.run(service.score(ScoreRequest(member_ids=["anyone"])))
    assert unready.value.status_code == 503 and "no feature snapshot" in unready.value.detail


def test_service_picks_up_a_newer_snapshot_without_restart(use_trained: object, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A snapshot written after start-up is served by the running instance (metadata and scores)."""
    from serving.service import MemberScoring

    current = latest_snapshot_path(Path(os.environ["MEMBERSCORE_SNAPSHOT_DIR"]) / DEFAULT_PROJECT)
    directory = tmp_path / "snapshots" / DEFAULT_PROJECT
    directory.mkdir(parents=True)
    shutil.copy(current, directory / current.name)
    monkeypatch.setenv("MEMBERSCORE_SNAPSHOT_DIR", str(directory.parent))
    monkeypatch.setenv("MEMBERSCORE_POLL_SECONDS", "0")
    service = MemberScoring()
    old = read_snapshot(current)
    newer = dataclasses.replace(old, as_of=old.as_of + timedelta(days=1))
    write_snapshot(newer, directory)
    deadline = time.monotonic() + 60  # the service refreshes in a background thread: requests never wait for it
    while service.metadata().snapshot_as_of != newer.as_of.isoformat() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.metadata().snapshot_as_of == newer.as_of.isoformat()
    assert score(service, ["nobody"]).snapshot_as_of == newer.as_of.isoformat()
