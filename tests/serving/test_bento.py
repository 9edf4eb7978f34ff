"""Packaging: ``memberscore build`` makes a Bento of the current champions that serves the same API
from anywhere (started by its tag outside the checkout), given a snapshot directory and a key."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from features.store import latest_snapshot_path, read_snapshot
from tests.serving.conftest import API_KEY, REPO, start_server, stop, trained_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_built_bento_serves_the_champions(trained: object, client: httpx.Client,
                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    env = {**os.environ, **trained_env(trained)}
    built = subprocess.run([sys.executable, "-m", "cli", "build", "--bentofile", str(REPO / "bentofile.yaml")],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    tag = built.stdout.split()[1]
    assert tag.startswith("member_scoring:") and "default.memberscore-churn:" in built.stdout
    import bentoml

    info = bentoml.get(tag).info
    assert info.labels["project"] == "default"
    envs = {env.name: env.value for env in info.envs}
    assert envs["MEMBERSCORE_PROJECT"] == "default"
    assert envs["BENTOML_DO_NOT_TRACK"] == "True" and envs["MLFLOW_DISABLE_TELEMETRY"] == "true"  # quiet container
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    bento = start_server(elsewhere, trained_env(trained), target=tag, cwd=elsewhere)
    try:
        member = str(read_snapshot(latest_snapshot_path(trained.project_snapshots)).frame["member_id"].iloc[0])
        body = {"member_ids": [member], "explain": 2}
        from_bento = httpx.post(f"{bento.base}/score", json=body, headers={"X-API-Key": API_KEY}, timeout=60)
        assert from_bento.status_code == 200, from_bento.text[:300]
        assert from_bento.json() == client.post("/score", json=body).json()
        assert httpx.get(f"{bento.base}/ui", timeout=30).status_code == 200
        assert httpx.get(f"{bento.base}/segments", timeout=30).status_code == 401
    finally:
        stop(bento.process)
