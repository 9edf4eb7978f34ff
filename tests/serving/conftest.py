"""A real BentoML server on loopback (``bentoml serve serving.service:MemberScoring``), for the HTTP,
page and property-based API tests. One per test session (tests that change what it serves start
their own with ``start_server``); the environment points it at the session's
trained stores and gives it one API key.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from bench.measure import free_port, stop_process_group, wait_until_answering
from features.snapshot import Snapshot, build_snapshot

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
READY_TIMEOUT_S = 90.0
API_KEY = "test-key-0123456789-abcdefgh"  # MEMBERSCORE_API_KEYS: role admin
ROLE_KEYS = {role: f"{role}-test-key-0123456789abcdef" for role in ("crm", "marketer", "analyst", "admin")}
PSEUDONYM_KEY = "test-pseudonym-key-0123456789"
TINY_AS_OF = date(2024, 3, 1)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a test server's whole process group (BentoML forks workers)."""
    stop_process_group(process, grace_seconds=15)


@dataclass
class RunningServer:
    base: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self, waiting_for: str = "", timeout_s: float = 5.0) -> str:
        """The server's output, once it holds ``waiting_for`` (the access line is written after the
        answer has gone: a client can read the answer before the line is there)."""
        return _text_once_it_holds(self.log_path, waiting_for, timeout_s)

    def audit_log(self, waiting_for: str = "", timeout_s: float = 5.0) -> str:
        """The server's audit log (beside its output unless the test chose one), once it holds ``waiting_for``
        (lines are written by a thread just after each answer)."""
        return _text_once_it_holds(self.log_path.with_name("audit.log"), waiting_for, timeout_s)


def _text_once_it_holds(path: Path, waiting_for: str, timeout_s: float) -> str:
    """The file's text once it exists and holds ``waiting_for``, or as it is after ``timeout_s`` ("" if absent)."""
    deadline = time.monotonic() + timeout_s
    while True:
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else None
        if (text is not None and waiting_for in text) or time.monotonic() >= deadline:
            return text or ""
        time.sleep(0.05)


def start_server(log_dir: Path, env: Mapping[str, str], wait_for: int = 200,
                 target: str = "serving.service:MemberScoring", cwd: Path = REPO) -> RunningServer:
    """Start ``target`` (the service, or a built Bento's tag) on a free loopback port; wait until
    /readyz answers ``wait_for`` (200 or 503)."""
    port = free_port(HOST)
    log_path = log_dir / "bentoml.log"
    command = [sys.executable, "-m", "bentoml", "serve", target, "--host", HOST, "--port", str(port)]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=cwd, env={**os.environ, "BENTOML_DO_NOT_TRACK": "True",
                                                      "MEMBERSCORE_AUDIT_LOG": str(log_dir / "audit.log"), **env},
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = RunningServer(f"http://{HOST}:{port}", process, log_path)
    wait_until_answering(process, server.base, log_path, READY_TIMEOUT_S, status=wait_for)
    return server


def role_key_file(path: Path) -> Path:
    """A key file with one key per role (``ROLE_KEYS``), as ``memberscore keys create`` writes them."""
    from serving.auth import hash_key
    from serving.keyfile import KeyRecord, now_utc

    path.write_text("".join(KeyRecord(name=f"{role}-test", role=role, hash=hash_key(key), created=now_utc()).line() + "\n"  # type: ignore[arg-type]
                            for role, key in ROLE_KEYS.items()), encoding="utf-8")
    return path


def trained_env(trained: object) -> dict[str, str]:
    return {
        "MEMBERSCORE_API_KEY_FILE": str(role_key_file(Path(trained.root) / "api-keys")),
        "MEMBERSCORE_PSEUDONYM_KEY": PSEUDONYM_KEY,  # for the marketer's key (pseudonymised ids)
        "MLFLOW_TRACKING_URI": trained.tracking_uri,
        "MEMBERSCORE_SNAPSHOT_DIR": str(trained.snapshots),
        "BENTOML_HOME": os.environ["BENTOML_HOME"],
        "MEMBERSCORE_API_KEYS": API_KEY,
        "MEMBERSCORE_CAMPAIGN_DB": f"sqlite:///{Path(trained.root) / 'campaigns.db'}",  # not the checkout's var/
    }


@pytest.fixture(scope="session")
def running_server(trained: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A real server serving the session's trained champions (key: ``API_KEY``), with its log.

    Its BentoML store is its own (it imports the champions into it as a deployment does): in the
    worker's store, models other test files import for the same project would reach it as the
    newest cached model of a task the registry has no champion for."""
    own_store = {"BENTOML_HOME": str(tmp_path_factory.mktemp("server-bentoml"))}
    running = start_server(tmp_path_factory.mktemp("server"), {**trained_env(trained), **own_store})
    try:
        yield running
    finally:
        stop(running.process)


@pytest.fixture(scope="session")
def server(running_server: RunningServer) -> str:
    """The base URL of the session's real server."""
    return running_server.base


@pytest.fixture(scope="session")
def client(server: str) -> Iterator[httpx.Client]:
    """An HTTP client with the API key."""
    with httpx.Client(base_url=server, timeout=60, headers={"X-API-Key": API_KEY}) as http:
        yield http


# --- tiny in-process models (no server, no registry) ------------------------------------------------

@pytest.fixture(scope="module")
def tiny_snapshot(synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> Snapshot:
    """The synthetic members as of TINY_AS_OF."""
    return build_snapshot(synthetic[0], TINY_AS_OF)


@pytest.fixture(scope="module")
def tiny_models(tiny_snapshot: Snapshot) -> dict[str, xgb.Booster]:
    """Churn (logistic), value (Tweedie) and a 3-output upsell-like booster fitted in a few rounds on
    the snapshot's features and category shares; upsell's output 0 learns a share, so shares appear
    among the reasons. The tests using them are about plumbing (chunks, lookups), not model quality."""
    inputs = tiny_snapshot.model_inputs()
    names = [*tiny_snapshot.feature_names, *(c for c in inputs.columns if c.startswith("share_"))]
    values = inputs[names].to_numpy(np.float32)
    churned = (inputs["recency_days"] > 60).to_numpy(float)
    spend = inputs["spend_90d"].clip(lower=0).to_numpy(float)
    share = inputs[next(n for n in names if n.startswith("share_"))].to_numpy(float)
    several = np.column_stack([share > np.median(share), (spend > spend.mean()).astype(float), churned])
    fit = {
        "churn": ({"objective": "binary:logistic", "max_depth": 3, "seed": 1}, churned),
        "value": ({"objective": "reg:tweedie", "max_depth": 3, "seed": 1}, spend),
        "upsell": ({"objective": "binary:logistic", "max_depth": 3, "seed": 1,
                    "multi_strategy": "one_output_per_tree"}, several),
    }
    return {task: xgb.train(params, xgb.DMatrix(values, label=label, feature_names=names), num_boost_round=8)
            for task, (params, label) in fit.items()}
