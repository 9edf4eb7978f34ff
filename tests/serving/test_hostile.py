"""Hostile requests to every endpoint that takes a body, on the real server (issue 6, part 3).

Oversize bodies and batches, deep nesting, bytes that are not UTF-8, numbers too large for any
type, NaN and infinity, unknown fields: each gets a 4xx whose body says what is wrong, never a 5xx,
and the server keeps serving afterwards. The pure parts of ``serving.limits`` are checked here
too, on hand-built bodies with known answers.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from features.settings import load_settings
from serving.limits import (
    DEFAULT_MAX_BODY_BYTES,
    MAX_BODY_ENV,
    MAX_JSON_DEPTH,
    RequestLimitsMiddleware,
    json_body_problem,
    nesting_depth,
)
from serving.schemas import MAX_BATCH, MAX_EXCLUDED, MAX_FEATURE_ROWS, MAX_TARGETS

BODY_ENDPOINTS = ["/score", "/score_features", "/explain", "/targets"]
JSON = {"content-type": "application/json"}
HUGE_INT = "1" + "0" * 400  # 10**400 written out: no float or int64 holds it
DEEP = b"[" * 10_000 + b"]" * 10_000


# --- the pure checks of serving.limits -----------------------------------------------------------

@pytest.mark.parametrize(("body", "depth"), [
    (b"", 0), (b"1", 0), (b"{}", 1), (b'{"a": [1, {"b": [2]}]}', 4),
    (b'{"a": "[[[{{{"}', 1),                     # brackets inside a string do not count
    (b'{"a": "say \\"[[[\\" twice"}', 1),        # nor after an escaped quote
    (b'{"a": "ends in a backslash \\\\", "b": [[1]]}', 3),  # an escaped backslash does not escape the quote
    (b'"unterminated [[[', 0),
    (DEEP, 10_000),
])
def test_nesting_depth_counts_brackets_outside_strings(body: bytes, depth: int) -> None:
    assert nesting_depth(body) == depth


def test_nesting_depth_is_linear_on_adversarial_bodies() -> None:
    """4 MiB of escaped quotes, string openers or brackets: a backtracking scan would take hours."""
    for body in (b'"' + b'\\"' * 2**21, b'"a",' * 2**20, b"[]" * 2**21):
        started = time.perf_counter()
        nesting_depth(body)
        assert time.perf_counter() - started < 5.0, body[:8]


@pytest.mark.parametrize(("body", "named"), [
    (b'{"member_ids": ["\xff\xfe"]}', "UTF-8"),
    (b'{"member_ids": ["caf\xe9"]}', "byte 0xe9 at offset 20"),  # Latin-1, not UTF-8
    (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), f"nested {MAX_JSON_DEPTH + 1} levels"),
])
def test_json_body_problem_names_the_reason(body: bytes, named: str) -> None:
    problem = json_body_problem(body)
    assert problem is not None and problem.startswith("body: ") and named in problem


def test_json_body_problem_passes_valid_bodies_at_the_depth_limit() -> None:
    assert json_body_problem(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) is None
    assert json_body_problem(json.dumps({"member_ids": ["Zoë", "李"], "explain": 2}).encode()) is None


@pytest.mark.parametrize(("raw", "expected"), [(None, DEFAULT_MAX_BODY_BYTES), ("", DEFAULT_MAX_BODY_BYTES),
                                               ("1024", 1024)])
def test_max_body_bytes_reads_the_environment(monkeypatch: pytest.MonkeyPatch, raw: str | None, expected: int) -> None:
    if raw is None:
        monkeypatch.delenv(MAX_BODY_ENV, raising=False)
    else:
        monkeypatch.setenv(MAX_BODY_ENV, raw)
    assert load_settings().max_body_bytes == expected


@pytest.mark.parametrize("raw", ["0", "-5", "16MB", "1.5"])
def test_max_body_bytes_refuses_a_bad_setting_naming_the_variable(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(MAX_BODY_ENV, raw)
    with pytest.raises(ValueError, match=MAX_BODY_ENV):
        load_settings()


def through_middleware(chunks: list[bytes], max_bytes: int, headers: list | None = None,
                       disconnect: bool = False) -> tuple[int | None, bytes, list[bytes]]:
    """POST ``chunks`` through ``RequestLimitsMiddleware`` to an app that echoes what it read.

    Returns (status sent, response body, bodies the app received).
    """
    events = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    if disconnect:
        events[-1:] = [{"type": "http.disconnect"}]
    sent: list[dict] = []
    received: list[bytes] = []

    async def receive() -> dict:
        return events.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    async def echo(scope: dict, receive_body, send_reply) -> None:
        received.append((await receive_body())["body"])
        await send_reply({"type": "http.response.start", "status": 200, "headers": []})
        await send_reply({"type": "http.response.body", "body": received[-1]})

    scope = {"type": "http", "method": "POST", "path": "/score", "headers": headers or []}
    asyncio.run(RequestLimitsMiddleware(echo, max_bytes=max_bytes)(scope, receive, send))
    status = sent[0]["status"] if sent else None
    return status, b"".join(m.get("body", b"") for m in sent[1:]), received


def test_middleware_hands_the_app_the_whole_body_once() -> None:
    """A valid body in three chunks (one big enough to be checked off the event loop) arrives intact."""
    body = json.dumps({"member_ids": [f"m{i:06d}" for i in range(20_000)]}).encode()
    chunks = [body[:10], body[10:100_000], body[100_000:]]
    status, echoed, received = through_middleware(chunks, max_bytes=len(body))
    assert (status, echoed, received) == (200, body, [body])


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "streamed"])
def test_middleware_refuses_one_byte_over_the_cap_without_calling_the_app(declared: bool) -> None:
    headers = [(b"content-length", b"101")] if declared else []
    status, echoed, received = through_middleware([b" " * 60, b" " * 41], max_bytes=100, headers=headers)
    assert status == 413 and b"larger than 100 bytes" in echoed and received == []


def test_middleware_drops_a_request_whose_client_went_away() -> None:
    status, _, received = through_middleware([b'{"member_ids": [', b"never sent"], max_bytes=100, disconnect=True)
    assert status is None and received == []


# --- the real server ----------------------------------------------------------------------------

def assert_refused(response: httpx.Response, named: str, status: int | None = None) -> None:
    """A 4xx (``status`` when given) with a JSON error body that mentions ``named``."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    if status is not None:
        assert response.status_code == status, (response.status_code, response.text[:300])
    assert isinstance(response.json()["error"], str) and response.json()["error"]
    assert named in response.text, (named, response.text[:300])


def post_raw(client: httpx.Client, path: str, body: bytes | Iterator[bytes]) -> httpx.Response:
    return client.post(path, content=body, headers=JSON)


def oversize_chunks(total: int) -> Iterator[bytes]:
    """``total`` bytes in 1 MiB chunks, sent without a Content-Length (chunked transfer)."""
    sent = 0
    while sent < total:
        chunk = min(2**20, total - sent)
        sent += chunk
        yield b" " * chunk


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
@pytest.mark.integration
@pytest.mark.slow
def test_a_body_over_the_cap_is_413(client: httpx.Client, path: str, chunked: bool) -> None:
    """One byte over the 16 MiB cap: 413 whether the size is declared up front or only streamed."""
    size = DEFAULT_MAX_BODY_BYTES + 1
    body = oversize_chunks(size) if chunked else b" " * size
    assert_refused(post_raw(client, path, body), "larger than 16,777,216 bytes", status=413)


GENERIC = {
    "10,000 levels deep": (DEEP, "nested 10000 levels"),
    "deep inside a field": (b'{"member_ids": ' + DEEP + b"}", "nested 10001 levels"),
    "not UTF-8": (b'{"member_id": "\xff\xfe\xfa"}', "UTF-8"),
    "truncated JSON": (b'{"member_ids": ["1",', "JSON"),
    "JSON null": (b"null", ""),
    "JSON array": (b"[1, 2]", ""),
}


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
@pytest.mark.parametrize(("body", "named"), list(GENERIC.values()), ids=list(GENERIC))
@pytest.mark.integration
@pytest.mark.slow
def test_malformed_bodies_are_4xx_on_every_endpoint(client: httpx.Client, path: str, body: bytes, named: str) -> None:
    assert_refused(post_raw(client, path, body), named)


@pytest.mark.parametrize("path", ["/score_features", "/explain", "/targets"])
@pytest.mark.integration
@pytest.mark.slow
def test_invalid_json_is_blamed_on_the_body_not_a_field(client: httpx.Client, path: str) -> None:
    """FastAPI locates a syntax error at a character offset; the error names the body, not "[19]"."""
    response = post_raw(client, path, b'{"member_id": "1",')
    assert response.status_code == 422 and response.json()["error"] == "body: JSON decode error", response.text


FEATURE_ROW = '{"rows": [{"features": {"recency_days": %s}}]}'
HOSTILE = {
    # /score (parsed by BentoML)
    "score: 10,001 ids": ("/score", json.dumps({"member_ids": [str(i) for i in range(MAX_BATCH + 1)]}), "member_ids"),
    "score: explain 1e400": ("/score", '{"member_ids": ["1"], "explain": 1e400}', "explain"),
    "score: explain 10**400": ("/score", '{"member_ids": ["1"], "explain": %s}' % HUGE_INT, "explain"),
    "score: explain NaN": ("/score", '{"member_ids": ["1"], "explain": NaN}', "explain"),
    "score: id 10**400": ("/score", '{"member_ids": [%s]}' % HUGE_INT, "member_ids"),
    "score: unknown field": ("/score", '{"member_ids": ["1"], "campaign": "winback"}', "campaign"),
    # /score_features
    "features: NaN": ("/score_features", FEATURE_ROW % "NaN", "rows[0].features.recency_days"),
    "features: Infinity": ("/score_features", FEATURE_ROW % "Infinity", "rows[0].features.recency_days"),
    "features: -Infinity": ("/score_features", FEATURE_ROW % "-Infinity", "rows[0].features.recency_days"),
    "features: 1e400": ("/score_features", FEATURE_ROW % "1e400", "rows[0].features.recency_days"),
    "features: 10**400": ("/score_features", FEATURE_ROW % HUGE_INT, "rows[0].features.recency_days"),
    "features: 1,001 rows": ("/score_features",
                             json.dumps({"rows": [{"features": {}}] * (MAX_FEATURE_ROWS + 1)}), "rows"),
    "features: explain 10**400": ("/score_features", '{"rows": [{"features": {}}], "explain": %s}' % HUGE_INT, "explain"),
    "features: bad as_of": ("/score_features", '{"rows": [{"features": {}}], "as_of": "2024-13-45"}', "as_of"),
    "features: unknown field": ("/score_features", '{"rows": [{"features": {}, "weight": 2}]}', "rows[0].weight"),
    # /explain
    "explain: member_id 10**400": ("/explain", '{"member_id": %s}' % HUGE_INT, "member_id"),
    "explain: member_id 1e400": ("/explain", '{"member_id": 1e400}', "member_id"),
    "explain: member_id NaN": ("/explain", '{"member_id": NaN}', "member_id"),
    "explain: 10,000-character id": ("/explain", json.dumps({"member_id": "x" * 10_000}), "member_id"),
    "explain: unknown field": ("/explain", '{"member_id": "1", "task": "churn"}', "task"),
    # /targets
    "targets: limit 10**400": ("/targets", '{"campaign": "winback", "limit": %s}' % HUGE_INT, "limit"),
    "targets: limit 1e400": ("/targets", '{"campaign": "winback", "limit": 1e400}', "limit"),
    "targets: limit NaN": ("/targets", '{"campaign": "winback", "limit": NaN}', "limit"),
    "targets: 10,001 rows": ("/targets", json.dumps({"campaign": "winback", "limit": MAX_TARGETS + 1}), "limit"),
    "targets: min_value Infinity": ("/targets", '{"campaign": "winback", "filters": {"min_value": Infinity}}',
                                    "filters.min_value"),
    "targets: min_value 1e400": ("/targets", '{"campaign": "winback", "filters": {"min_value": 1e400}}',
                                 "filters.min_value"),
    "targets: 100,001 exclusions": ("/targets", json.dumps({"campaign": "winback", "filters": {
        "exclude_member_ids": [str(i) for i in range(MAX_EXCLUDED + 1)]}}), "exclude_member_ids"),
    "targets: unknown field": ("/targets", '{"campaign": "winback", "member_ids": ["1"]}', "member_ids"),
}


@pytest.mark.parametrize(("path", "body", "named"), list(HOSTILE.values()), ids=list(HOSTILE))
@pytest.mark.integration
@pytest.mark.slow
def test_hostile_values_are_4xx_naming_the_field(client: httpx.Client, path: str, body: str, named: str) -> None:
    assert_refused(post_raw(client, path, body.encode()), named)


@pytest.mark.integration
@pytest.mark.slow
def test_an_anonymous_oversize_body_is_401_before_it_is_read(server: str) -> None:
    """The key is checked first: without one, not even the size matters."""
    response = httpx.post(f"{server}/score", content=b" " * (DEFAULT_MAX_BODY_BYTES + 1), headers=JSON, timeout=60)
    assert response.status_code == 401


@pytest.mark.integration
@pytest.mark.slow
def test_the_server_still_scores_after_the_hostile_requests(client: httpx.Client, trained: object) -> None:
    """Runs last in this module: the barrage above left the service ready and answering."""
    from features.store import latest_snapshot_path, read_snapshot

    member = str(read_snapshot(latest_snapshot_path(trained.project_snapshots)).frame["member_id"].iloc[0])
    assert client.get("/readyz").status_code == 200
    response = client.post("/score", json={"member_ids": [member], "explain": 1})
    assert response.status_code == 200 and response.json()["results"][0]["status"] == "scored"
