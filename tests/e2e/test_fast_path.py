"""The fast path of `POST /v1/model/response` (gateway.doors.freddy.fast): which requests it answers
itself, which it hands to the framework route, and that both answer alike."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from gateway.app import create_app
from tests.conftest import KEY_A, ORG_B, in_this_loop, make_settings, ok, sse_events, uid, user
from tests.e2e.fast_helpers import Counting, Front

TURN = "/v1/model/response"


@pytest_asyncio.fixture
async def gw(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Counting]]:
    front = Front(create_app(make_settings(tmp_path, max_body_bytes=4096)), TURN)
    async with in_this_loop(front) as client:
        yield client, front.framework


def _turn(**fields: Any) -> dict[str, Any]:
    return {"model": "echo", "inputs": [user("hello")], **fields}


async def test_the_everyday_turn_never_reaches_the_framework(gw: tuple[httpx.AsyncClient, Counting]) -> None:
    client, framework = gw
    thread = uid("thread")
    for _ in range(3):
        body = ok(await client.post(TURN, json=_turn(thread=thread), headers={"X-API-Key": KEY_A}))
        assert body["thread_id"] == thread
    # Bearer keys, chained responses and errors raised by the turn itself stay on the fast path too.
    prev = ok(await client.post(TURN, json=_turn(), headers={"Authorization": f"Bearer {KEY_A}"}))
    ok(await client.post(TURN, json=_turn(previousResponseId=prev["id"]), headers={"X-API-Key": KEY_A}))
    r = await client.post(TURN, json=_turn(model="nowhere/none"), headers={"X-API-Key": KEY_A})
    assert r.status_code == 404 and r.json()["error"]["code"] == "MODEL_NOT_FOUND"
    assert framework.calls == 0
    threads = ok(await client.get("/v1/threads", headers={"X-API-Key": KEY_A}))
    assert any(t["id"] == thread and t["message_count"] == 6 for t in threads["data"])


@pytest.mark.parametrize(
    ("headers", "body", "path", "status", "code", "handed"),
    [
        ({}, _turn(), TURN, 401, "AUTHENTICATION_REQUIRED", 1),
        ({"X-API-Key": "nope"}, _turn(), TURN, 401, "INVALID_API_KEY", 1),
        ({"X-API-Key": KEY_A}, {"model": "echo"}, TURN, 422, "VALIDATION_ERROR", 1),
        ({"X-API-Key": KEY_A}, _turn(store="false"), TURN, 422, "VALIDATION_ERROR", 1),
        # The organization check is the turn edge's, shared by both paths: answered on the fast one.
        ({"X-API-Key": KEY_A}, _turn(organization_id=ORG_B), TURN, 403, "ORGANIZATION_ACCESS_DENIED", 0),
        (
            {"X-API-Key": KEY_A},
            _turn(),
            TURN + f"?organization_id={ORG_B}",
            403,
            "ORGANIZATION_ACCESS_DENIED",
            0,
        ),
        ({"X-API-Key": KEY_A}, _turn(inputs=[user("x" * 5000)]), TURN, 413, "PAYLOAD_TOO_LARGE", 1),
    ],
    ids=["no-key", "bad-key", "no-inputs", "lenient-bool", "other-org", "query-org", "too-large"],
)
async def test_what_the_fast_path_hands_to_the_framework_route(
    gw: tuple[httpx.AsyncClient, Counting],
    headers: dict[str, str],
    body: dict[str, Any],
    path: str,
    status: int,
    code: str,
    handed: int,
) -> None:
    client, framework = gw
    r = await client.post(
        path, content=json.dumps(body), headers={"Content-Type": "application/json", **headers}
    )
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code
    assert error["trace_id"] == r.headers["x-request-id"]
    # A query string never enters the fast path (it goes to the framework without a hand-over).
    assert framework.calls == handed


async def test_a_streamed_turn_is_the_framework_s_with_its_body_replayed(
    gw: tuple[httpx.AsyncClient, Counting],
) -> None:
    client, framework = gw
    thread = uid("thread")
    r = await client.post(TURN, json=_turn(thread=thread, stream=True), headers={"X-API-Key": KEY_A})
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    assert events[-1][0] == "response.completed"
    assert events[-1][1]["response"]["thread_id"] == thread
    assert framework.calls == 1


async def test_both_paths_answer_alike(gw: tuple[httpx.AsyncClient, Counting]) -> None:
    """The same requests through the fast path and through the framework route (a query string
    sends a request there): same status, headers and body, ids and times aside."""
    client, _ = gw

    async def both(body: dict[str, Any]) -> tuple[httpx.Response, httpx.Response]:
        def fresh() -> dict[str, Any]:  # each path on its own thread, so both see the same history
            return {**body, "thread": uid("thread")} if body.get("thread") == "new" else body

        fast = await client.post(TURN, json=fresh(), headers={"X-API-Key": KEY_A})
        slow = await client.post(
            TURN + "?organization_id=org_alpha", json=fresh(), headers={"X-API-Key": KEY_A}
        )
        return fast, slow

    # Times of the two answers may fall in different seconds.
    clock_fields = ("timestamp", "trace_id", "created_at", "createdAt")

    def shape(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items() if k not in clock_fields}
        if isinstance(value, list):
            return [shape(v) for v in value]
        if isinstance(value, str) and value.split("_")[0] in ("resp", "msg", "thread", "req"):
            return value.split("_")[0]
        return value

    cases = [
        _turn(),
        _turn(thread="new", instructions="Be brief.", max_output_tokens=10),
        _turn(model="nowhere/none"),
        _turn(thread={"id": "bad id!"}),
    ]
    for body in cases:
        fast, slow = await both(body)
        assert fast.status_code == slow.status_code, (fast.text, slow.text)
        assert set(fast.headers) == set(slow.headers)
        assert fast.headers["content-type"] == slow.headers["content-type"]
        assert shape(fast.json()) == shape(slow.json())
