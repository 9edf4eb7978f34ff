"""The HTTP stack around the routes: the real server's worker parses HTTP with httptools and runs
its event loop on uvloop, and no request is traced unless the operator configures it.

BentoML's worker builds ``uvicorn.Config`` with ``http`` and ``loop`` left at "auto": uvicorn takes
httptools and uvloop when they import, else the pure-Python h11 parser and asyncio's loop, with no
word in the log. Under wrk the pure-Python pair cost a third of /healthz's rate (bench/RESULTS.md);
this checks that an install from pyproject.toml gives the running server the fast pair. BentoML's
tracing recorded three spans per request with nothing to export them to (30-40% of a request's CPU).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from tests.serving.conftest import API_KEY, REPO, RunningServer

pytestmark = pytest.mark.slow  # a real server, and fresh interpreters that import the service


def _loaded_libraries(process_id: int) -> str:
    """The shared objects mapped into a process (Linux: /proc/<pid>/maps)."""
    return Path(f"/proc/{process_id}/maps").read_text(encoding="utf-8", errors="replace")


def test_the_worker_runs_on_httptools_and_uvloop(running_server: RunningServer) -> None:
    workers = [child for child in psutil.Process(running_server.process.pid).children(recursive=True)
               if "_bentoml_impl.worker.service" in " ".join(child.cmdline())]
    assert len(workers) == 1, [child.cmdline() for child in workers]
    mapped = _loaded_libraries(workers[0].pid)
    assert "/httptools/parser/" in mapped
    assert "/uvloop/loop." in mapped


def test_no_request_is_traced_by_default(running_server: RunningServer) -> None:
    """BentoML writes a request's trace and span ids into its access line when it made spans for it."""
    with httpx.Client(base_url=running_server.base, timeout=60, headers={"X-API-Key": API_KEY}) as client:
        assert client.post("/score", json={"member_ids": ["nobody"], "explain": 1}).status_code == 200
    lines = [line for line in running_server.log(waiting_for="path=/score").splitlines() if "path=/score" in line]
    assert lines and not [line for line in lines if "trace=" in line]


_TRACED = """
import json
from _bentoml_impl.loader import load
from bentoml._internal.container import BentoMLContainer
load("serving.service:MemberScoring", standalone_load=True).inject_config()
excluded = BentoMLContainer.tracing_excluded_urls.get()
print(json.dumps(sorted(path for path in ("/score", "/targets", "/healthz", "/readyz")
                        if not excluded.url_disabled("http://127.0.0.1:3000" + path))))
"""


def _traced_paths(env: dict[str, str]) -> list[str]:
    """The paths the service would trace, in a fresh interpreter (BentoML's configuration is global)."""
    done = subprocess.run([sys.executable, "-c", _TRACED], cwd=REPO, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_tracing_is_turned_on_as_the_readme_says(tmp_path: Path) -> None:
    config = tmp_path / "bentoml.yaml"
    config.write_text('services:\n  MemberScoring:\n    tracing:\n      excluded_urls: "/healthz,/livez,/readyz"\n',
                      encoding="utf-8")
    assert _traced_paths({}) == []
    assert _traced_paths({"BENTOML_CONFIG": str(config)}) == ["/score", "/targets"]
