"""The real server's worker parses HTTP with httptools and runs its event loop on uvloop.

BentoML's worker builds ``uvicorn.Config`` with ``http`` and ``loop`` left at "auto": uvicorn takes
httptools and uvloop when they import, else the pure-Python h11 parser and asyncio's loop, with no
word in the log. Under wrk the pure-Python pair cost a third of /healthz's rate (bench/RESULTS.md);
this checks that an install from pyproject.toml gives the running server the fast pair.
"""

from __future__ import annotations

from pathlib import Path

import psutil

from tests.serving.conftest import RunningServer


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
