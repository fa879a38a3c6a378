"""The fast path of `POST /api/threads/messages` (gateway.doors.backboard.fast): which requests it
answers itself (JSON turns, as `send_message` sends them), which it hands to the framework route
(forms, streams, bad keys and bodies), and that both answer alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from gateway.app import create_app
from tests.conftest import KEY_A, in_this_loop, make_settings
from tests.e2e.backboard.helpers import data_events, is_uuid, new_id, ok
from tests.e2e.fast_helpers import Counting, Front

TURN = "/api/threads/messages"


@pytest_asyncio.fixture
async def gw(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Counting]]:
    front = Front(create_app(make_settings(tmp_path, max_body_bytes=4096)), TURN)
    async with in_this_loop(front) as client:
        client.headers["X-API-Key"] = KEY_A
        yield client, front.framework


async def test_json_turns_never_reach_the_framework(gw: tuple[httpx.AsyncClient, Counting]) -> None:
    client, framework = gw
    first = ok(await client.post(TURN, json={"content": "My favorite color is blue."}))
    assert is_uuid(first["thread_id"]) and first["content"] == "My favorite color is blue."
    second = ok(await client.post(TURN, json={"content": "And mine?", "thread_id": first["thread_id"]}))
    assert second["thread_id"] == first["thread_id"]
    assert second["assistant_id"] == first["assistant_id"]
    # Errors of the turn itself are answered there too, in the door's envelope.
    r = await client.post(TURN, json={"content": "hi", "thread_id": new_id()})
    assert r.status_code == 404 and "detail" in r.json()
    r = await client.post(TURN, json={"content": "hi", "llm_provider": "nowhere", "model_name": "none"})
    assert r.status_code == 404 and "detail" in r.json()
    assert framework.calls == 0
    thread = ok(await client.get(f"/api/threads/{first['thread_id']}"))
    assert [m["content"] for m in thread["messages"]][:3] == ["My favorite color is blue."] * 2 + [
        "And mine?"
    ]


@pytest.mark.parametrize(
    ("headers", "send", "status", "handed"),
    [
        ({"X-API-Key": "nope"}, {"json": {"content": "hi"}}, 401, 1),
        ({}, {"content": b'{"content": "hi", "nonsense": 1}'}, 422, 1),
        ({}, {"content": b"{not json"}, 422, 1),
        # A form (add_message's body) never enters the fast path: no hand-over, the route answers.
        ({}, {"data": {"content": "hi"}}, 200, 0),
        ({}, {"json": {"content": "x" * 5000}}, 413, 1),
    ],
    ids=["bad-key", "unknown-field", "not-json", "form", "too-large"],
)
async def test_what_the_fast_path_hands_to_the_framework_route(
    gw: tuple[httpx.AsyncClient, Counting],
    headers: dict[str, str],
    send: dict[str, Any],
    status: int,
    handed: int,
) -> None:
    client, framework = gw
    extra = {} if "data" in send else {"Content-Type": "application/json"}
    r = await client.post(TURN, headers={**extra, **headers}, **send)
    assert r.status_code == status, r.text
    assert ("detail" in r.json()) == (status != 200)
    assert framework.calls == handed


async def test_a_streamed_turn_is_the_framework_s(gw: tuple[httpx.AsyncClient, Counting]) -> None:
    client, framework = gw
    r = await client.post(TURN, json={"content": "hello", "stream": True})
    events = data_events(r.text)
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_ended"
    assert framework.calls == 1


async def test_both_paths_answer_alike(gw: tuple[httpx.AsyncClient, Counting]) -> None:
    """The same turn through the fast path (JSON) and through the framework route (the same fields
    as a form, which the fast path does not take): same status, headers and body, ids and times
    aside."""
    client, _ = gw
    variable = ("thread_id", "message_id", "assistant_id", "created_at", "timestamp")

    def shape(r: httpx.Response) -> tuple[int, set[str], dict[str, Any]]:
        body = r.json()
        return r.status_code, set(r.headers), {k: v for k, v in body.items() if k not in variable}

    for fields in (
        {"content": "hello there"},
        {"content": "hi", "llm_provider": "nowhere", "model_name": "x"},
    ):
        fast = await client.post(TURN, json=fields)
        slow = await client.post(TURN, data=fields)
        assert shape(fast) == shape(slow), (fast.text, slow.text)


def test_only_json_bodies_are_taken(tmp_path: Path) -> None:
    fast = Front(create_app(make_settings(tmp_path)), TURN).fast

    def scope(media: bytes | None) -> Any:
        headers = [] if media is None else [(b"content-type", media)]
        return {"type": "http", "path": TURN, "method": "POST", "query_string": b"", "headers": headers}

    assert fast.takes(scope(None)) and fast.takes(scope(b"application/json; charset=utf-8"))
    assert fast.takes(scope(b"Application/JSON"))
    assert not fast.takes(scope(b"application/x-www-form-urlencoded"))
    assert not fast.takes(scope(b"multipart/form-data; boundary=x"))
