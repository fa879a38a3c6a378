"""The fast path of `POST /v1/responses` (gateway.doors.openai.fast): which requests it answers
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
from tests.conftest import KEY_A, ORG_B, in_this_loop, make_settings
from tests.e2e.fast_helpers import Counting, Front

PATH = "/v1/responses"
AUTH = {"Authorization": f"Bearer {KEY_A}"}


@pytest_asyncio.fixture
async def gw(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Counting]]:
    front = Front(create_app(make_settings(tmp_path, max_body_bytes=4096)), PATH)
    async with in_this_loop(front) as client:
        yield client, front.framework


async def test_the_everyday_response_never_reaches_the_framework(
    gw: tuple[httpx.AsyncClient, Counting],
) -> None:
    client, framework = gw
    conversation = (await client.post("/v1/conversations", json={}, headers=AUTH)).json()["id"]
    for text in ("one", "two"):
        r = await client.post(
            PATH, json={"model": "echo", "input": text, "conversation": conversation}, headers=AUTH
        )
        assert r.status_code == 200, r.text
    first = r.json()
    chained = await client.post(
        PATH, json={"model": "echo", "input": "three", "previous_response_id": first["id"]}, headers=AUTH
    )
    assert chained.json()["output"][0]["content"][0]["text"] == "one\ntwo\nthree"
    # Errors raised by the turn itself are answered there too, in OpenAI's envelope.
    r = await client.post(PATH, json={"model": "nowhere/none", "input": "x"}, headers=AUTH)
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    assert framework.calls == 0


@pytest.mark.parametrize(
    ("headers", "body", "path", "status", "code", "handed"),
    [
        ({}, {"model": "echo", "input": "x"}, PATH, 401, "authentication_required", 1),
        ({"Authorization": "Bearer nope"}, {"model": "echo", "input": "x"}, PATH, 401, "invalid_api_key", 1),
        (AUTH, {"model": "echo", "input": "x", "store": "false"}, PATH, 422, "validation_error", 1),
        (AUTH, {"model": "echo", "input": "x" * 5000}, PATH, 413, "payload_too_large", 1),
        # A query string never enters the fast path: the framework gets it without a hand-over.
        (
            AUTH,
            {"model": "echo", "input": "x"},
            f"{PATH}?organization_id={ORG_B}",
            403,
            "organization_access_denied",
            0,
        ),
    ],
    ids=["no-key", "bad-key", "lenient-bool", "too-large", "query-org"],
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
    assert r.json()["error"]["code"] == code
    assert framework.calls == handed


async def test_a_stream_is_the_framework_s_with_its_body_replayed(
    gw: tuple[httpx.AsyncClient, Counting],
) -> None:
    client, framework = gw
    r = await client.post(PATH, json={"model": "echo", "input": "streamed", "stream": True}, headers=AUTH)
    assert r.headers["content-type"].startswith("text/event-stream")
    assert "event: response.completed" in r.text
    assert framework.calls == 1


async def test_both_paths_answer_alike(gw: tuple[httpx.AsyncClient, Counting]) -> None:
    client, _ = gw
    for body in (
        {"model": "echo", "input": "same", "metadata": {"k": "v"}},
        {"model": "echo", "input": "x", "tools": [{"type": "web_search"}]},
        {"model": "nowhere/none", "input": "x"},
    ):
        fast = await client.post(PATH, json=body, headers=AUTH)
        slow = await client.post(PATH + "?organization_id=org_alpha", json=body, headers=AUTH)
        assert fast.status_code == slow.status_code, (fast.text, slow.text)
        assert set(fast.headers) == set(slow.headers)
        one, two = fast.json(), slow.json()
        for answer in (one, two) if fast.status_code == 200 else ():
            for field in ("id", "created_at", "completed_at", "output"):
                answer.pop(field)
        assert one == two
