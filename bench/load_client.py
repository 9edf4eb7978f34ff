"""A closed-loop HTTP load generator: C concurrent clients POST for a fixed time, latencies recorded.

Why not locust or wrk: wrk needs a Debian package in CI, and locust's gevent workers cost more CPU
than the asyncio client below, on a machine where the client shares the cores with the server.
aiohttp's C parser keeps the client's own cost small. Each client sends its next request as soon
as the previous answer arrives (closed loop), cycling through the request bodies it was given.
Requests during the warm-up are sent but not counted.

    python -m bench.load_client --url http://127.0.0.1:3000/score --bodies bodies.json \
        --concurrency 8 --duration 10 --warmup 2 --api-key KEY
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from pathlib import Path

import aiohttp
import numpy as np


async def _client(session: aiohttp.ClientSession, url: str, bodies: list[bytes], offset: int,
                  counted_from: float, stop_at: float, latencies: list[float], errors: list[int]) -> None:
    for body in itertools.islice(itertools.cycle(bodies), offset, None):
        started = time.perf_counter()
        if started >= stop_at:
            return
        async with session.post(url, data=body) as response:
            await response.read()
            ok = response.status == 200
        if started < counted_from:
            continue
        if ok:
            latencies.append(time.perf_counter() - started)
        else:
            errors.append(response.status)


async def load(url: str, bodies: list[bytes], concurrency: int, duration: float, warmup: float,
               api_key: str) -> dict[str, float]:
    """Run the load and summarise it: counted requests, errors, rps and latency percentiles (ms)."""
    headers = {"Content-Type": "application/json", "X-API-Key": api_key}
    latencies: list[float] = []
    errors: list[int] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        now = time.perf_counter()
        counted_from, stop_at = now + warmup, now + warmup + duration
        await asyncio.gather(*(_client(session, url, bodies, i * 7919, counted_from, stop_at, latencies, errors)
                               for i in range(concurrency)))
        measured = time.perf_counter() - counted_from
    millis = np.asarray(latencies) * 1000.0
    return {
        "requests": float(len(latencies)), "errors": float(len(errors)), "seconds": measured,
        "rps": len(latencies) / measured if measured > 0 else 0.0,
        "p50_ms": float(np.percentile(millis, 50)) if len(millis) else float("nan"),
        "p99_ms": float(np.percentile(millis, 99)) if len(millis) else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Closed-loop POST load for a fixed duration.")
    parser.add_argument("--url", required=True)
    parser.add_argument("--bodies", type=Path, required=True, help="JSON file: a list of request bodies")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--api-key", default="")
    args = parser.parse_args()
    bodies = [json.dumps(body).encode() for body in json.loads(args.bodies.read_text())]
    result = asyncio.run(load(args.url, bodies, args.concurrency, args.duration, args.warmup, args.api_key))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
