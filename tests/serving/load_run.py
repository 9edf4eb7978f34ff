"""A bounded load run against a real server: a fixed number of requests from concurrent clients.

Every answer is checked, not just its status: /score must return the expected churn probability and
three reasons for each id, so a half-swapped model or snapshot during a reload counts as a failure.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from tests.serving.conftest import API_KEY


@dataclass
class LoadRun:
    """What a run saw: failed or wrong requests, /score answers per model version, the tag reloaded midway."""

    failures: list[str] = field(default_factory=list)
    versions: Counter = field(default_factory=Counter)
    reload_tag: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw_version(self, version: str) -> None:
        with self.lock:  # Counter's += is a read-modify-write, not atomic across threads
            self.versions[version] += 1


def one_request(http: httpx.Client, i: int, members: list[str], expected: dict[str, float], run: LoadRun) -> None:
    """Request ``i`` of the run: mostly /score with reasons, every 10th /explain; wrong answers are failures."""
    if i % 10 == 9:
        response = http.post("/explain", json={"member_id": members[i % len(members)]})
        if response.status_code != 200 or "churn" not in response.json()["models"]:
            run.failures.append(f"{i} /explain {response.status_code} {response.text[:200]}")
        return
    ids = [members[(i + k) % len(members)] for k in range(5)]
    response = http.post("/score", json={"member_ids": ids, "explain": 3})
    if response.status_code != 200:
        run.failures.append(f"{i} /score {response.status_code} {response.text[:200]}")
        return
    body = response.json()
    run.saw_version(body["model_version"])
    wrong = [r["member_id"] for r in body["results"]
             if not math.isclose(r["churn_probability"], expected[r["member_id"]], rel_tol=1e-9) or len(r["reasons"]) != 3]
    if wrong:
        run.failures.append(f"{i} /score wrong answers for {wrong}")


Midway = Callable[[httpx.Client, "LoadRun"], None]


def run_load(base: str, members: list[str], expected: dict[str, float], total: int, clients: int,
             midway: Midway | None = None) -> LoadRun:
    """``total`` requests from ``clients`` threads, each with its own connection; the request drawing
    number ``total // 2`` first runs ``midway`` (e.g. a champion reload) while the others keep going."""
    run, counter = LoadRun(), itertools.count()

    def client_loop() -> None:
        with httpx.Client(base_url=base, timeout=120, headers={"X-API-Key": API_KEY}) as http:
            while (i := next(counter)) < total:
                try:
                    if midway is not None and i == total // 2:
                        midway(http, run)
                    one_request(http, i, members, expected, run)
                except Exception as error:
                    run.failures.append(f"{i} {type(error).__name__}: {error}")

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return run


def server_rss_mb(process_id: int) -> float:
    """Resident memory of the server and every process it forked."""
    import psutil

    root = psutil.Process(process_id)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20
