"""Streaming answers (SPEC §3.3): the event sequence, saving, failures and pre-model errors."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from providers.base import ChatMessage, Completion, ModelRequest, TextDelta
from providers.echo import EchoProvider
from providers.errors import UpstreamFailed, UpstreamRateLimited
from tests.conftest import KEY_A, Api, err, make_settings, ok, running, sse_events, uid, user
from tests.e2e.raw_rows import RawRows


class Chunky:
    """A streaming provider: yields `chunks` one by one, then raises `fail` or completes."""

    name = "chunky"

    def __init__(
        self, chunks: list[str], fail: Callable[[], Exception] | None = None, delay: float = 0.0
    ) -> None:
        self.chunks = chunks
        self.fail = fail
        self.delay = delay

    def context_window(self, model: str) -> int:
        return 32_768

    def count_tokens(self, message: ChatMessage) -> int:
        return math.ceil(message.chars / 4)

    def _completion(self, request: ModelRequest) -> Completion:
        text = "".join(self.chunks)
        return Completion(
            text=text,
            input_tokens=sum(self.count_tokens(m) for m in request.messages),
            output_tokens=math.ceil(len(text) / 4),
        )

    async def complete(self, request: ModelRequest) -> Completion:
        return self._completion(request)

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | Completion]:
        for chunk in self.chunks:
            yield TextDelta(chunk)
            await asyncio.sleep(0)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail()
        yield self._completion(request)


@asynccontextmanager
async def gateway(tmp_path: Path, providers: dict[str, Any], **overrides: Any) -> AsyncIterator[Api]:
    async with running(make_settings(tmp_path, **overrides), providers=providers) as client:
        yield Api(client, KEY_A)


async def stream(api: Api, text: str, **fields: Any) -> httpx.Response:
    return await api.post(
        "/v1/model/response", json={"model": "echo", "inputs": [user(text)], "stream": True, **fields}
    )


def events_of(r: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"].startswith("text/event-stream")
    # SSE lines may end in CRLF (Litestar's do); the shared parser splits on LF only.
    events = sse_events(r.text.replace("\r\n", "\n").replace("\r", "\n"))
    assert events, r.text[:500]
    for name, data in events:
        assert data["type"] == name, (name, data)
    return events


def names(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    # Consecutive deltas collapse to one name, so sequences read as in the SPEC.
    out: list[str] = []
    for name, _ in events:
        if not (out and out[-1] == name == "response.output_text.delta"):
            out.append(name)
    return out


def deltas(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [d["delta"] for n, d in events if n == "response.output_text.delta"]


async def test_stream_sends_created_deltas_done_completed_in_order(a: Api) -> None:
    tid = uid()
    ok(await a.say("alpha", thread=tid))
    r = await stream(a, "beta", thread=tid)
    events = events_of(r)
    assert names(events) == [
        "response.created",
        "response.output_text.delta",
        "response.output_text.done",
        "response.completed",
    ]
    created = events[0][1]["response"]
    assert created["status"] == "in_progress"
    assert re.fullmatch(r"resp_\w+", created["id"])
    assert created["thread_id"] == tid
    assert created["model"] == "echo"
    assert len(deltas(events)) >= 2  # echo streams one delta per line
    assert "".join(deltas(events)) == "alpha\nbeta"
    assert events[-2][1]["text"] == "alpha\nbeta"
    done = events[-1][1]["response"]
    assert done["id"] == created["id"]
    assert done["status"] == "completed"
    assert done["thread_id"] == tid
    assert done["previous_response_id"] is None
    assert done["output_text"] == "alpha\nbeta"
    assert done["output"][0]["texts"] == [{"text": "alpha\nbeta"}]
    assert re.fullmatch(r"msg_\w+", done["output"][0]["id"])
    # "alpha" (2) + "alpha" (2) + "beta" (1); output "alpha\nbeta" is 10 characters (3).
    assert done["usage"] == {"input_tokens": 5, "output_tokens": 3, "total_tokens": 8}
    thread = ok(await a.thread(tid))
    assert thread["message_count"] == 4
    msgs = await a.messages(tid)
    assert [m["response_id"] for m in msgs[-2:]] == [done["id"], done["id"]]
    assert msgs[-1]["texts"] == [{"text": "alpha\nbeta"}]


async def test_streamed_response_can_be_continued_like_any_other(a: Api) -> None:
    r = await stream(a, "one")
    done = events_of(r)[-1][1]["response"]
    follow = ok(await a.say("two", previousResponseId=done["id"]))
    assert follow["output_text"] == "one\ntwo"


async def test_each_upstream_chunk_is_forwarded_as_its_own_delta(tmp_path: Path) -> None:
    chunks = ["Hel", "lo ", "wor", "ld"]
    async with gateway(tmp_path, {"echo": Chunky(chunks)}) as a:
        events = events_of(await stream(a, "hi"))
        assert deltas(events) == chunks
        assert events[-1][0] == "response.completed"
        assert events[-1][1]["response"]["output_text"] == "Hello world"


async def test_turn_is_saved_before_completed_is_sent(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    app = create_app(settings)
    rows = RawRows(settings)  # the store read beside the gateway, on either backend
    tid = uid()
    seen: list[int] = []

    def message_count() -> int:
        return rows.message_count(tid)

    async def observed(scope: Any, receive: Any, send: Any) -> None:
        async def spy(message: Any) -> None:
            if message["type"] == "http.response.body" and b"response.completed" in message.get("body", b""):
                seen.append(message_count())  # before the event leaves the gateway
            await send(message)

        await app(scope, receive, spy)

    async with AsyncTestClient(app=observed) as client:
        a = Api(client, KEY_A)
        ok(await a.say("one", thread=tid))
        events = events_of(await stream(a, "two", thread=tid))
        assert events[-1][0] == "response.completed"
    rows.close()
    assert seen == [4]


FAILURES = [
    pytest.param(lambda: UpstreamFailed("chunky", 500), 502, "PROVIDER_ERROR", id="failed"),
    pytest.param(lambda: UpstreamRateLimited("chunky", "7"), 429, "RATE_LIMITED", id="rate-limited"),
]


@pytest.mark.parametrize(("fail", "status", "code"), FAILURES)
async def test_failure_mid_stream_sends_failed_and_saves_nothing(
    tmp_path: Path, fail: Callable[[], Exception], status: int, code: str
) -> None:
    providers = {"echo": EchoProvider(), "chunky": Chunky(["partial ", "answer"], fail=fail)}
    async with gateway(tmp_path, providers) as a:
        tid = uid()
        ok(await a.say("one", thread=tid))
        before = await a.messages(tid)
        r = await stream(a, "two", thread=tid, model="chunky/m")
        events = events_of(r)
        assert names(events) == ["response.created", "response.output_text.delta", "response.failed"]
        assert deltas(events) == ["partial ", "answer"]
        error = events[-1][1]["error"]
        assert set(error) >= {"code", "message", "type", "status", "details", "trace_id", "timestamp"}
        assert (error["code"], error["status"]) == (code, status)
        assert error["trace_id"] == r.headers["x-request-id"]
        assert await a.messages(tid) == before
        assert ok(await a.thread(tid))["message_count"] == 2
        fresh = uid()
        events = events_of(await stream(a, "x", thread=fresh, model="chunky/m"))
        assert events[-1][0] == "response.failed"
        err(await a.thread(fresh), 404, "THREAD_NOT_FOUND")
        assert [t["id"] for t in ok(await a.get("/v1/threads"))["data"]] == [tid]


async def test_stream_slower_than_the_provider_timeout_fails_with_timeout(tmp_path: Path) -> None:
    providers = {"echo": EchoProvider(), "chunky": Chunky(["slow "], delay=5.0)}
    async with gateway(tmp_path, providers, provider_timeout_s=0.2) as a:
        tid = uid()
        ok(await a.say("one", thread=tid))
        events = events_of(await stream(a, "two", thread=tid, model="chunky/m"))
        assert events[0][0] == "response.created"
        assert events[-1][0] == "response.failed"
        assert events[-1][1]["error"]["code"] == "PROVIDER_TIMEOUT"
        assert "response.completed" not in [n for n, _ in events]
        assert ok(await a.thread(tid))["message_count"] == 2


async def test_errors_before_the_model_are_plain_json_not_streams(tmp_path: Path) -> None:
    async with gateway(tmp_path, {"echo": EchoProvider(20)}) as a:
        locked = uid()
        ok(await a.say("bye", thread=locked, threadState="locked"))
        cases = [
            (await stream(a, "x", thread=locked), 409, "THREAD_LOCKED"),
            (await stream(a, "x", model="no-such-model"), 404, "MODEL_NOT_FOUND"),
            (await stream(a, "x" * 200), 400, "CONTEXT_LENGTH_EXCEEDED"),
            (await stream(a, "x", thread=uid(), thread_id=uid()), 400, "CONFLICTING_PARAMETERS"),
            (await stream(a, "x", previousResponseId="resp_nope"), 404, "RESPONSE_NOT_FOUND"),
            (
                await a.post("/v1/model/response", json={"model": "echo", "inputs": [], "stream": True}),
                422,
                "VALIDATION_ERROR",
            ),
            (
                await a.post(
                    "/v1/model/response",
                    json={"model": "echo", "inputs": [user("x")], "stream": True},
                    headers={"X-API-Key": "ak_wrong"},
                ),
                401,
                None,
            ),
        ]
        for r, status, code in cases:
            assert r.headers["content-type"].startswith("application/json"), (code, r.headers)
            err(r, status, code)
        assert ok(await a.thread(locked))["message_count"] == 2


async def test_streaming_with_previous_response_id(a: Api) -> None:
    tid = uid()
    r1 = ok(await a.say("one", thread=tid))
    events = events_of(await stream(a, "two", previousResponseId=r1["id"]))
    created = events[0][1]["response"]
    assert (created["thread_id"], created["previous_response_id"]) == (None, r1["id"])
    done = events[-1]
    assert done[0] == "response.completed"
    body = done[1]["response"]
    assert (body["thread_id"], body["previous_response_id"]) == (None, r1["id"])
    assert body["output_text"] == "one\ntwo"
    assert "".join(deltas(events)) == "one\ntwo"
    assert ok(await a.thread(tid))["message_count"] == 2
    again = ok(await a.say("three", previousResponseId=body["id"]))
    assert again["output_text"] == "one\ntwo\nthree"


async def test_stream_can_close_the_thread_with_thread_state(a: Api) -> None:
    tid = uid()
    events = events_of(await stream(a, "last words", thread=tid, threadState="archived"))
    assert events[-1][0] == "response.completed"
    thread = ok(await a.thread(tid))
    assert (thread["state"], thread["message_count"]) == ("archived", 2)
    err(await stream(a, "more", thread=tid), 409, "THREAD_ARCHIVED")
