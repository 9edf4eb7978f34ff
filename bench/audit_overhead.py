"""What the audit log adds to a request: the middleware around a bare ASGI app, against the bare app.

Run: ``python -m bench.audit_overhead`` (a few seconds). Prints microseconds per request for the bare
app, the app inside the audit middleware (line built on the request, written by the writer's thread),
and a synchronous write of the same line on the request, for comparison. Medians of 5 runs.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from features.settings import load_settings
from serving.audit import AuditMiddleware, audit_line, note
from serving.audit_file import RotatingLines
from serving.caller import SCOPE_KEY, Caller

REQUESTS = 20_000
RUNS = 5
CALLER = Caller(name="bench-key", role="crm")


async def bare(scope: Any, receive: Any, send: Any) -> None:
    note(rows=1)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _drive(app: Callable[..., Any]) -> float:
    """Microseconds per request through ``app``."""
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        return None

    started = time.perf_counter()
    for _ in range(REQUESTS):
        await app({"type": "http", "method": "POST", "path": "/score", SCOPE_KEY: CALLER}, receive, send)
    return (time.perf_counter() - started) / REQUESTS * 1e6


def synchronous_write_us(lines: RotatingLines) -> float:
    started = time.perf_counter()
    for _ in range(REQUESTS):
        lines.write([audit_line(datetime.now(UTC), CALLER, "POST", "/score", 200, {"rows": 1}, 0.001)])
    return (time.perf_counter() - started) / REQUESTS * 1e6


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "audit.log"
        audited = AuditMiddleware(bare, settings=lambda: load_settings(audit_log=log))
        sync = RotatingLines(Path(folder) / "sync.log", max_bytes=10 * 2**20, backups=2)
        figures: dict[str, list[float]] = {"bare app": [], "audit middleware": [], "synchronous write": []}
        for _ in range(RUNS):
            figures["bare app"].append(asyncio.run(_drive(bare)))
            figures["audit middleware"].append(asyncio.run(_drive(audited)))
            audited.writer.flush()
            figures["synchronous write"].append(synchronous_write_us(sync))
        audited.writer.close()
        sync.close()
    for name, runs in figures.items():
        print(f"{name}: {statistics.median(runs):.1f} us per request (median of {RUNS} x {REQUESTS:,})")


if __name__ == "__main__":
    main()
