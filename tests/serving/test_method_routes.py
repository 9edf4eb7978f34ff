"""Requests to the service's routes do not hop to a thread for what an event loop can do.

FastAPI runs a plain-function route or dependency in its thread pool. BentoML hands method routes
their instance through such a function (``bentoml.get_current_service``): a hop per request, about a
fifth of a single-member /score's CPU (bench/RESULTS.md, 2026-12-07). In process, the service's own
app with a hand-built instance set as BentoML's current service; every hop to a thread is counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anyio.to_thread
import pytest
from _bentoml_sdk.service import set_current_service
from fastapi.testclient import TestClient
from pydantic import SecretStr

from features.segment_rules import read_segment_rules
from serving.answers import Answers
from serving.live import Served
from serving.method_routes import serve_instance_on_the_event_loop
from serving.segment_summary import configured_labels
from tests.campaigns.test_store_lists import loaded_snapshot
from tests.serving.test_roles import Reloadable

KEY = {"X-API-Key": "any: the key check is the middleware's, not in this app"}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    from serving.service import MemberScoring, web

    service = object.__new__(MemberScoring.inner)  # type: ignore[attr-defined]  # set by @bentoml.service
    service.answers = Answers(Reloadable(Served(snapshot=loaded_snapshot(), project="shop")),
                              configured_labels(read_segment_rules(None), None), "shop", SecretStr("p" * 32), None)
    set_current_service(service)
    try:
        with TestClient(web) as http:
            yield http
    finally:
        set_current_service(None)


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the functions sent to a worker thread while the test runs."""
    sent: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(getattr(function, "func", function), "__qualname__", repr(function)))  # a partial: its function
        return await run_sync(function, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    return sent


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz", "/readiness"])
def test_the_probes_answer_without_a_thread(client: TestClient, hops: list[str], path: str) -> None:
    answer = client.get(path, headers=KEY)
    assert answer.status_code == 200, answer.text
    assert hops == []


def test_score_sends_only_its_own_work_to_a_thread(client: TestClient, hops: list[str]) -> None:
    """This snapshot has no precomputed reasons, so the scoring itself runs in a thread (the event
    loop keeps answering meanwhile); the instance, the language and the key's header do not."""
    answer = client.post("/score", json={"member_ids": ["m001"], "explain": 3}, headers=KEY)
    assert answer.status_code == 200, answer.text
    assert hops == ["scored"]


def test_a_plain_route_still_gets_the_instance_in_a_thread(client: TestClient, hops: list[str]) -> None:
    """The counter sees hops: /metadata is a plain method, so FastAPI sends it and the validation of its
    answer to a thread, but not the fetching of its ``self``."""
    answer = client.get("/metadata", headers=KEY)
    assert answer.status_code == 200, answer.text
    assert hops and not [hop for hop in hops if "current_service" in hop]


def test_every_method_route_was_pointed_once() -> None:
    from serving.service import MemberScoring

    assert serve_instance_on_the_event_loop(MemberScoring.inner) == 0  # type: ignore[attr-defined]  # done at import
