"""Your data, your models (issue 14, item 8): two projects in the same stores never meet.

The demo (a sample of the bundled CDNOW data) is trained as project ``demo``, then a seeded
simulated shop as project ``shop-b``, both with ``memberscore train`` against one MLflow store, one
snapshot root and one BentoML home. Each registry starts at version 1, each gate judges without the
other's champion, each run is named and tagged for its project, ``score`` uses the project's own
champions, and a real server (loopback, bounded) started for one project serves only its models
and members. Few boosting rounds keep it to minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.conftest import fresh_mlflow_store
from tests.serving.conftest import API_KEY, start_server, stop

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.minutes]

REPO = Path(__file__).resolve().parents[2]
MEMBERSCORE = [sys.executable, "-m", "cli"]  # what the console script runs (pyproject: memberscore = "cli.main:app")
CDNOW_MEMBERS = 2_000
PROJECTS = ("demo", "shop-b")


@dataclass(frozen=True)
class Trained:
    root: Path
    env: dict[str, str]
    data: dict[str, Path]
    reports: dict[str, dict]
    outputs: dict[str, str]


def memberscore(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MEMBERSCORE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def two_projects(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    root = tmp_path_factory.mktemp("projects")
    env = {**os.environ, "MLFLOW_TRACKING_URI": fresh_mlflow_store(root / "mlruns" / "mlflow.db"),
           "MEMBERSCORE_SNAPSHOT_DIR": str(root / "snapshots"), "BENTOML_HOME": str(root / "bentoml"),
           "BENTOML_DO_NOT_TRACK": "True"}
    env.pop("MEMBERSCORE_PROJECT", None)
    cdnow = pd.read_parquet(REPO / "data" / "cdnow" / "cdnow_master.parquet")
    demo = root / "cdnow_sample.parquet"
    cdnow[cdnow["customer_id"].astype(int) <= CDNOW_MEMBERS].to_parquet(demo, index=False)
    shop = root / "shop.csv"
    simulated = memberscore(env, root, "simulate", "--members", "800", "--days", "540", "--seed", "3", "--out", str(shop))
    assert simulated.returncode == 0, simulated.stderr[-3000:]
    config = root / "light.yaml"
    config.write_text("n_train_cutoffs: 2\nnum_boost_round: 30\nearly_stopping_rounds: 0\nbootstrap_rounds: 200\n")
    data = {"demo": demo, "shop-b": shop}
    mapping = {"demo": ["--mapping", str(REPO / "mappings" / "cdnow.yaml")], "shop-b": []}
    reports, outputs = {}, {}
    for project in PROJECTS:  # the demo first, as `make run` leaves it
        report = root / f"{project}.json"
        done = memberscore(env, root, "train", "--transactions", str(data[project]), *mapping[project],
                           "--config", str(config), "--report", str(report), "--project", project)
        assert done.returncode == 0, done.stderr[-3000:]
        reports[project], outputs[project] = json.loads(report.read_text()), done.stdout
        scored = memberscore(env, root, "score", "--transactions", str(data[project]), *mapping[project],
                             "--as-of", reports[project]["cutoffs"]["evaluation"], "--out", str(root / f"{project}.csv"),
                             "--project", project)
        assert scored.returncode == 0, scored.stderr[-3000:]
    yield Trained(root, env, data, reports, outputs)


def client(trained: Trained) -> object:
    from mlflow import MlflowClient

    uri = trained.env["MLFLOW_TRACKING_URI"]
    return MlflowClient(uri, registry_uri=uri)


def test_each_report_names_its_project_and_its_own_models(two_projects: Trained) -> None:
    for project, report in two_projects.reports.items():
        assert report["project"] == project
        assert report["tasks"], report
        for task, result in report["tasks"].items():
            assert result["model_name"] == f"{project}.memberscore-{task.replace('_', '-')}"
            assert result["project"] == project


def test_each_project_promotes_its_own_champions_without_the_others(two_projects: Trained) -> None:
    """Every registered model starts at v1 in each project; shop-b's gates never meet the demo's champions."""
    for project, report in two_projects.reports.items():
        assert any(result["promoted"] for result in report["tasks"].values()), (project, report["tasks"])
        for task, result in report["tasks"].items():
            assert result["model_version"] == "1", (project, task)
            reason = result["decision"]
            assert "<= champion" not in reason and "needs features absent" not in reason, (project, task, reason)
            if result["promoted"]:
                assert "no champion yet" in reason, reason
    assert "<= champion" not in two_projects.outputs["shop-b"]


def test_runs_and_champions_belong_to_their_project(two_projects: Trained) -> None:
    mlflow = client(two_projects)
    for project, report in two_projects.reports.items():
        for task, result in report["tasks"].items():
            run = mlflow.get_run(result["run_id"])
            assert run.info.run_name.startswith(f"{task} · {project} · 20"), run.info.run_name
            assert run.data.tags["project"] == project
            experiment = mlflow.get_experiment(run.info.experiment_id)
            assert experiment.name == result["model_name"]
            if result["promoted"]:
                champion = mlflow.get_model_version_by_alias(result["model_name"], "champion")
                assert champion.run_id == result["run_id"]
    names = {model.name for model in mlflow.search_registered_models()}
    assert all(name.split(".", 1)[0] in PROJECTS for name in names), names


def test_each_projects_snapshot_is_in_its_own_directory(two_projects: Trained) -> None:
    from features.store import latest_snapshot_path, read_snapshot

    for project in PROJECTS:
        members = set(read_snapshot(latest_snapshot_path(two_projects.root / "snapshots" / project)).frame["member_id"])
        assert all(member.startswith("m") for member in members) == (project == "shop-b")
    cdnow = set(pd.read_csv(two_projects.root / "demo.csv", dtype={"member_id": str})["member_id"])
    shop = set(pd.read_csv(two_projects.root / "shop-b.csv", dtype={"member_id": str})["member_id"])
    assert cdnow and shop and not cdnow & shop


@pytest.mark.parametrize("project", PROJECTS)
def test_a_service_serves_its_project_only(two_projects: Trained, project: str, tmp_path: Path) -> None:
    """/metadata and /readyz name the project; its models only; its members scored, the other's unknown."""
    other = next(p for p in PROJECTS if p != project)
    own_member = str(pd.read_csv(two_projects.root / f"{project}.csv", dtype={"member_id": str})["member_id"].iloc[0])
    other_member = str(pd.read_csv(two_projects.root / f"{other}.csv", dtype={"member_id": str})["member_id"].iloc[0])
    env = {key: two_projects.env[key] for key in ("MLFLOW_TRACKING_URI", "MEMBERSCORE_SNAPSHOT_DIR", "BENTOML_HOME")}
    server = start_server(tmp_path, {**env, "MEMBERSCORE_API_KEYS": API_KEY, "MEMBERSCORE_PROJECT": project})
    try:
        with httpx.Client(base_url=server.base, timeout=60, headers={"X-API-Key": API_KEY}) as http:
            readiness, metadata = http.get("/readyz").json(), http.get("/metadata").json()
            scored = http.post("/score", json={"member_ids": [own_member, other_member]}).json()
            page = http.get("/ui").text
    finally:
        stop(server.process)
    assert readiness["project"] == metadata["project"] == project
    assert metadata["models"], metadata
    for _task, info in metadata["models"].items():
        assert info["model_name"].startswith(f"{project}.memberscore-"), info["model_name"]
        assert info["training"]["project"] == project
    assert all(tag.startswith(f"{project}.") for tag in readiness["models"].values())
    assert [r["status"] for r in scored["results"]] == ["scored", "unknown"]
    assert 'id="project-name"' in page
