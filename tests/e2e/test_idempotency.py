"""`Idempotency-Key` on the turn (SPEC §15, Stripe's semantics): scoped to organization and key, the
first saved answer replayed for 24 hours, 409 while the first request runs, 422 for a different body;
a request that saved nothing frees its key, so a retry after a failure runs again but a retry after
a lost answer never makes a second turn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.app import create_app
from providers.base import Completion, ModelRequest
from providers.echo import EchoProvider
from providers.errors import UpstreamFailed
from tests.conftest import KEY_A, Api, err, in_this_loop, make_settings, ok, running, sse_events, uid, user

TURN = "/v1/model/response"


def body(text: str, **fields: Any) -> dict[str, Any]:
    return {"model": "echo", "inputs": [user(text)], **fields}


async def say(api: Api, key: str, payload: dict[str, Any]) -> Any:
    return await api.post(TURN, json=payload, headers={"Idempotency-Key": key})


async def test_a_retry_with_the_same_key_replays_the_answer_and_makes_no_second_turn(a: Api) -> None:
    tid, key = uid(), uid("key")
    first = await say(a, key, body("hello", thread=tid))
    again = await say(a, key, body("hello", thread=tid))
    assert ok(again) == ok(first)
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert ok(await a.thread(tid))["message_count"] == 2
    # The same request through the framework route (a query string sends it there) replays too.
    via_route = await a.post(
        f"{TURN}?organization_id=org_alpha", json=body("hello", thread=tid), headers={"Idempotency-Key": key}
    )
    assert ok(via_route)["id"] == ok(first)["id"]


async def test_the_key_with_another_body_is_a_mismatch(a: Api) -> None:
    tid, key = uid(), uid("key")
    ok(await say(a, key, body("hello", thread=tid)))
    err(await say(a, key, body("something else", thread=tid)), 422, "IDEMPOTENCY_MISMATCH")
    err(await say(a, key, body("hello", thread=tid, stream=True)), 422, "IDEMPOTENCY_MISMATCH")
    assert ok(await a.thread(tid))["message_count"] == 2


async def test_keys_are_scoped_by_organization(a: Api, b: Api) -> None:
    key = uid("key")
    first = ok(await say(a, key, body("from a")))
    other = ok(await say(b, key, body("from a")))
    assert other["id"] != first["id"] and other["thread_id"] != first["thread_id"]
    err(await b.thread(first["thread_id"]), 404, "THREAD_NOT_FOUND")


async def test_a_request_that_saved_nothing_frees_its_key(a: Api) -> None:
    key = uid("key")
    err(await say(a, key, body("x", model="nowhere/none")), 404, "MODEL_NOT_FOUND")
    # The key is free: a corrected request under it runs (no mismatch), and is then kept.
    first = ok(await say(a, key, body("x")))
    assert ok(await say(a, key, body("x")))["id"] == first["id"]


@pytest.mark.parametrize("value", [b"", b" ", b"k" * 256, "caf\u00e9".encode(), b"a\tb"])
async def test_a_malformed_key_is_refused(a: Api, value: bytes) -> None:
    r = await a.post(TURN, json=body("x"), headers={"Idempotency-Key": value})
    err(r, 422, "VALIDATION_ERROR")


async def test_a_streamed_turn_replays_as_a_stream_of_its_saved_answer(a: Api) -> None:
    tid, key = uid(), uid("key")
    first = await say(a, key, body("streamed", thread=tid, stream=True))
    done = next(e for e in sse_events(first.text) if e[0] == "response.completed")[1]["response"]
    again = await say(a, key, body("streamed", thread=tid, stream=True))
    assert again.headers["content-type"].startswith("text/event-stream")
    assert again.headers["idempotent-replayed"] == "true"
    events = sse_events(again.text)
    assert [name for name, _ in events] == [
        "response.created",
        "response.output_text.delta",
        "response.output_text.done",
        "response.completed",
    ]
    assert events[-1][1]["response"] == done
    assert "".join(e["delta"] for n, e in events if n == "response.output_text.delta") == done["output_text"]
    assert ok(await a.thread(tid))["message_count"] == 2


async def test_a_chained_turn_is_idempotent_too(a: Api) -> None:
    prev = ok(await a.say("base"))
    key = uid("key")
    first = ok(await say(a, key, body("next", previousResponseId=prev["id"])))
    assert ok(await say(a, key, body("next", previousResponseId=prev["id"])))["id"] == first["id"]


async def test_the_kept_answer_survives_a_restart(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    key, tid = uid("key"), uid()
    async with running(settings) as client:
        first = ok(
            await Api(client, KEY_A).post(
                TURN, json=body("kept", thread=tid), headers={"Idempotency-Key": key}
            )
        )
    async with running(settings) as client:
        api = Api(client, KEY_A)
        again = await api.post(TURN, json=body("kept", thread=tid), headers={"Idempotency-Key": key})
        assert ok(again) == first
        assert ok(await api.thread(tid))["message_count"] == 2


class Gate(EchoProvider):
    """Echo that waits for the test to open it, and may fail once."""

    def __init__(self) -> None:
        super().__init__()
        self.open = asyncio.Event()
        self.called = asyncio.Event()
        self.fail_next = False
        self.calls = 0

    async def complete(self, request: ModelRequest) -> Completion:
        self.calls += 1
        self.called.set()
        await self.open.wait()
        if self.fail_next:
            self.fail_next = False
            raise UpstreamFailed("echo", 500, retryable=False)
        return await super().complete(request)


@pytest.fixture
async def gated(tmp_path: Path) -> AsyncIterator[tuple[Api, Gate]]:
    gate = Gate()
    app = create_app(make_settings(tmp_path), providers={"echo": gate})
    async with in_this_loop(app) as client:
        yield Api(client, KEY_A), gate  # type: ignore[arg-type]


async def test_while_the_first_request_runs_the_key_is_in_flight(gated: tuple[Api, Gate]) -> None:
    a, gate = gated
    key, tid = uid("key"), uid()
    first = asyncio.create_task(say(a, key, body("slow", thread=tid)))
    await asyncio.wait_for(gate.called.wait(), 10)
    busy = await say(a, key, body("slow", thread=tid))
    err(busy, 409, "IDEMPOTENCY_IN_FLIGHT")
    assert busy.headers["retry-after"] == "1"
    gate.open.set()
    answer = ok(await first)
    assert ok(await say(a, key, body("slow", thread=tid)))["id"] == answer["id"]
    assert gate.calls == 1  # the in-flight and the replayed requests never reached the model


async def test_a_provider_failure_frees_the_key_and_the_retry_saves_one_turn(gated: tuple[Api, Gate]) -> None:
    a, gate = gated
    key, tid = uid("key"), uid()
    gate.open.set()
    gate.fail_next = True
    err(await say(a, key, body("retry me", thread=tid)), 502, "PROVIDER_ERROR")
    first = ok(await say(a, key, body("retry me", thread=tid)))
    assert ok(await say(a, key, body("retry me", thread=tid)))["id"] == first["id"]
    assert ok(await a.thread(tid))["message_count"] == 2
