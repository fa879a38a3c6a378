"""Concurrent turns (SPEC §3, §15): nothing lost, duplicated or interleaved; limits hold; turns on
one thread are served one after the other, each seeing every turn before it (linearizable), while
turns on different threads run at the same time.

Litestar's `AsyncTestClient` runs each request to completion on a portal thread before the next
starts, so `asyncio.gather` over it is sequential. These tests serve the app through
`httpx.ASGITransport` in the test's own event loop (lifespan driven by hand), and assert that the
requests really were in flight at once.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from gateway.app import create_app
from providers.base import Completion, ModelRequest, TextDelta
from providers.echo import EchoProvider
from tests.conftest import KEY_A, Api, err, in_this_loop, make_settings, ok, uid


class JitterEcho(EchoProvider):
    """Echo that sleeps a random few milliseconds, to interleave concurrent turns."""

    def __init__(self, delay_s: tuple[float, float] = (0.001, 0.015)) -> None:
        super().__init__()
        self.in_flight = 0
        self.peak = 0
        self.called = asyncio.Event()
        self._delay_s = delay_s

    async def complete(self, request: ModelRequest) -> Completion:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.called.set()
        try:
            await asyncio.sleep(random.uniform(*self._delay_s))
            return await super().complete(request)
        finally:
            self.in_flight -= 1

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | Completion]:
        completion = await self.complete(request)
        yield TextDelta(completion.text)
        yield completion


@asynccontextmanager
async def concurrent_gateway(tmp_path: Path, provider: JitterEcho, **overrides: Any) -> AsyncIterator[Api]:
    app = create_app(make_settings(tmp_path, **overrides), providers={"echo": provider})
    async with in_this_loop(app) as client:
        yield Api(client, KEY_A)  # type: ignore[arg-type]


def check_turns_are_whole(messages: list[dict[str, Any]], responses: list[dict[str, Any]]) -> None:
    """Each turn's user message is immediately followed by its answer, every turn exactly once."""
    by_id = {r["id"]: r for r in responses}
    assert len(messages) == 2 * len(responses)
    seen: list[str] = []
    for question, answer in zip(messages[::2], messages[1::2], strict=True):
        assert (question["role"], answer["role"]) == ("user", "assistant")
        rid = question["response_id"]
        assert answer["response_id"] == rid
        assert rid in by_id
        assert answer["texts"] == [{"text": by_id[rid]["output_text"]}]
        # Echo answers end with the turn's own input.
        assert by_id[rid]["output_text"].splitlines()[-1] == question["texts"][0]["text"]
        seen.append(rid)
    assert sorted(seen) == sorted(by_id)
    ids = [m["id"] for m in messages]
    assert len(set(ids)) == len(ids)


def check_linearizable(messages: list[dict[str, Any]], responses: list[dict[str, Any]]) -> None:
    """Each turn saw exactly the turns saved before it: echo answers with every user message it was
    given, so the k-th saved turn's answer is the first k questions, in the order they were saved."""
    by_id = {r["id"]: r for r in responses}
    questions = [m["texts"][0]["text"] for m in messages[::2]]
    for k, question in enumerate(messages[::2], start=1):
        answer = by_id[question["response_id"]]["output_text"]
        assert answer.splitlines() == questions[:k], (k, answer)


class InFlight:
    """How many of a test's own requests were in flight at once."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    async def run(self, request: Any) -> Any:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            return await request
        finally:
            self.now -= 1


async def test_concurrent_turns_on_one_thread_are_all_saved_whole_and_in_pairs(tmp_path: Path) -> None:
    provider = JitterEcho()
    async with concurrent_gateway(tmp_path, provider) as a:
        tid = uid()
        r = await a.post("/v1/threads", json={"id": tid})
        assert r.status_code == 201, r.text
        sent = [f"question-{i:02d}" for i in range(24)]
        flight = InFlight()
        results = await asyncio.gather(*(flight.run(a.say(text, thread=tid)) for text in sent))
        responses = [ok(r) for r in results]
        assert flight.peak == 24, "the requests were not in flight together"
        assert provider.peak == 1, "two turns of one thread ran at once"
        messages = await a.messages(tid)
        assert len(messages) == 48
        assert sorted(m["texts"][0]["text"] for m in messages if m["role"] == "user") == sent
        check_turns_are_whole(messages, responses)
        check_linearizable(messages, responses)
        thread = ok(await a.thread(tid))
        assert thread["message_count"] == 48
        assert thread["usage"] == {
            "input_tokens": sum(r["usage"]["input_tokens"] for r in responses),
            "output_tokens": sum(r["usage"]["output_tokens"] for r in responses),
        }


async def test_concurrent_first_turns_on_a_new_id_create_one_thread(tmp_path: Path) -> None:
    provider = JitterEcho()
    async with concurrent_gateway(tmp_path, provider) as a:
        tid = uid()
        sent = [f"first-{i:02d}" for i in range(16)]
        responses = [ok(r) for r in await asyncio.gather(*(a.say(t, thread=tid) for t in sent))]
        assert provider.peak == 1
        assert {r["thread_id"] for r in responses} == {tid}
        messages = await a.messages(tid)
        check_turns_are_whole(messages, responses)
        check_linearizable(messages, responses)
        assert ok(await a.thread(tid))["message_count"] == 32
        assert [t["id"] for t in ok(await a.get("/v1/threads"))["data"]] == [tid]


async def test_concurrent_streamed_turns_are_saved_whole(tmp_path: Path) -> None:
    provider = JitterEcho()
    async with concurrent_gateway(tmp_path, provider) as a:
        tid = uid()
        ok(await a.say("seed", thread=tid))
        bodies = [
            {
                "model": "echo",
                "inputs": [{"role": "user", "content": f"s-{i}"}],
                "thread": tid,
                "stream": True,
            }
            for i in range(10)
        ]
        flight = InFlight()
        results = await asyncio.gather(*(flight.run(a.post("/v1/model/response", json=b)) for b in bodies))
        assert flight.peak == 10, "the streams were not open together"
        assert provider.peak == 1, "two turns of one thread ran at once"
        assert all(r.status_code == 200 and "response.completed" in r.text for r in results)
        messages = await a.messages(tid)
        assert len(messages) == 22
        pairs = list(zip(messages[2::2], messages[3::2], strict=True))
        assert all(q["response_id"] == ans["response_id"] for q, ans in pairs)
        assert sorted(q["texts"][0]["text"] for q, _ in pairs) == sorted(f"s-{i}" for i in range(10))
        # Linearizable: each saved answer echoes every question saved up to and including its own.
        questions = [m["texts"][0]["text"] for m in messages[::2]]
        for k, answer in enumerate(messages[1::2], start=1):
            assert answer["texts"][0]["text"].splitlines() == questions[:k], k
        # Each stream carried its own turn's answer: the one saved for its question.
        saved = {q["texts"][0]["text"]: ans["texts"][0]["text"] for q, ans in pairs}
        for body, r in zip(bodies, results, strict=True):
            completed = r.text.split("event: response.completed", 1)[1]
            assert json.dumps(saved[body["inputs"][0]["content"]])[1:-1] in completed


async def test_message_limit_holds_under_concurrency(tmp_path: Path) -> None:
    provider = JitterEcho()
    async with concurrent_gateway(tmp_path, provider, max_messages_per_thread=10) as a:
        tid = uid()
        r = await a.post("/v1/threads", json={"id": tid})
        assert r.status_code == 201, r.text
        results = await asyncio.gather(*(a.say(f"q{i}", thread=tid) for i in range(12)))
        assert provider.peak == 1
        won = [ok(r) for r in results if r.status_code == 200]
        lost = [r for r in results if r.status_code != 200]
        assert len(won) == 5
        assert len(lost) == 7
        for r in lost:
            err(r, 409, "THREAD_MESSAGE_LIMIT")
        assert ok(await a.thread(tid))["message_count"] == 10
        check_turns_are_whole(await a.messages(tid), won)


async def test_turns_on_different_threads_run_at_the_same_time(tmp_path: Path) -> None:
    # Model calls long enough that twelve turns prepared one after another (a slow store under
    # load) still overlap in them, unless one thread's lease held up another.
    provider = JitterEcho(delay_s=(0.4, 0.5))
    async with concurrent_gateway(tmp_path, provider) as a:
        threads = [uid() for _ in range(12)]
        results = await asyncio.gather(*(a.say(f"hi {t}", thread=t) for t in threads))
        assert [ok(r)["thread_id"] for r in results] == threads
        assert provider.peak >= 6, provider.peak  # no lease of one thread holds up another


async def test_a_turn_that_waits_longer_than_the_turn_wait_is_thread_busy(tmp_path: Path) -> None:
    provider = JitterEcho(delay_s=(0.5, 0.5))
    async with concurrent_gateway(tmp_path, provider, turn_wait_s=0.1) as a:
        tid = uid()
        slow = asyncio.create_task(a.say("slow", thread=tid))
        await provider.called.wait()  # the first turn holds the thread, in its model call
        error = err(await a.say("impatient", thread=tid), 409, "THREAD_BUSY")
        assert error["details"] == {}
        busy = await a.say("impatient", thread=tid)
        assert busy.headers["retry-after"] == "1"
        assert ok(await slow)["output_text"] == "slow"
        # Once the first is saved the thread is free again, and the next turn sees it.
        assert ok(await a.say("after", thread=tid))["output_text"].splitlines() == ["slow", "after"]
        assert ok(await a.thread(tid))["message_count"] == 4
