"""Turns through the Backboard door keep the core's guarantees (SPEC §3): concurrent turns on one
thread are whole and in order, concurrent first turns share one default assistant, and a client
that leaves a stream mid-way saves nothing and frees the thread."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import KEY_A
from tests.e2e.backboard.conftest import serve_gateway
from tests.e2e.backboard.helpers import ok, say
from tests.fakes.behaviours import Reply
from tests.fakes.server import eventually, serve
from tests.fakes.upstream import FakeUpstream


async def test_concurrent_turns_on_one_thread_are_whole_and_in_order(http: httpx.AsyncClient) -> None:
    first = await say(http, "start")
    tid = first["thread_id"]

    async def turn(i: int) -> httpx.Response:
        if i % 2:
            return await http.post(f"/api/threads/{tid}/messages", data={"content": f"c{i}"})
        return await http.post("/api/threads/messages", json={"content": f"c{i}", "thread_id": tid})

    answers = await asyncio.gather(*(turn(i) for i in range(8)))
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    messages = ok(await http.get(f"/api/threads/{tid}"))["messages"]
    assert len(messages) == 2 + 2 * 8
    users: list[str] = []
    for user, assistant in zip(messages[0::2], messages[1::2], strict=True):
        # Each answer directly follows its input and saw every earlier input, in order.
        assert (user["role"], assistant["role"]) == ("user", "assistant")
        users.append(user["content"])
        assert assistant["content"] == "\n".join(users)
    assert sorted(users[1:]) == sorted(f"c{i}" for i in range(8))


async def test_concurrent_first_turns_share_one_default_assistant(http: httpx.AsyncClient) -> None:
    answers = await asyncio.gather(*(say(http, f"hello {i}") for i in range(6)))
    assert len({a["assistant_id"] for a in answers}) == 1
    assert len({a["thread_id"] for a in answers}) == 6
    assert [a["name"] for a in ok(await http.get("/api/assistants"))] == ["Default assistant"]


@pytest.fixture
def stalling(tmp_path: Path) -> Iterator[tuple[FakeUpstream, str]]:
    """A gateway whose `openai` provider is a fake that stalls a stream after its first chunk."""
    fake = FakeUpstream()
    with (
        serve(fake) as url,
        serve_gateway(tmp_path / "data", openai_api_key="sk", openai_base_url=f"{url}/v1") as gw,
    ):
        yield fake, gw


async def test_a_client_leaving_a_stream_saves_nothing_and_frees_the_thread(
    stalling: tuple[FakeUpstream, str],
) -> None:
    fake, gateway = stalling
    async with httpx.AsyncClient(base_url=gateway, headers={"X-API-Key": KEY_A}, timeout=30) as http:
        first = await say(http, "kept")
        fake.push(Reply(chunks=("partial", " never"), stall_after=1, stall_s=20))
        body = {"content": "left", "thread_id": first["thread_id"], "model_name": "gpt-4o", "stream": True}
        async with http.stream("POST", "/api/threads/messages", json=body) as r:
            assert r.status_code == 200
            async for line in r.aiter_lines():
                if '"content_streaming"' in line:
                    break  # leave after the first delta
        assert await eventually(lambda: bool(fake.calls) and fake.calls[-1].disconnected)
        # The thread is free at once, and holds nothing of the turn that was left.
        answer = await say(http, "after", thread_id=first["thread_id"])
        assert answer["content"] == "kept\nafter"
        contents = [
            m["content"] for m in ok(await http.get(f"/api/threads/{first['thread_id']}"))["messages"]
        ]
        assert contents == ["kept", "kept", "after", "kept\nafter"]
