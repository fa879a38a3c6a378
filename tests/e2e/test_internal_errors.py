"""SPEC §8, §3.3: an unexpected provider exception is a 500 INTERNAL_ERROR without details (or a
`response.failed` event on a stream), saves nothing, and the app keeps serving."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from providers.base import ChatMessage, Completion, ModelRequest, TextDelta
from providers.echo import EchoProvider
from tests.conftest import KEY_A, Api, err, make_settings, ok, running, sse_events, uid
from tests.e2e.errors_helpers import SECRET_DETAIL, BrokenProvider, say

# -- internal errors ---------------------------------------------------------------------------------


async def test_unexpected_provider_exception_is_500_internal_error_without_details(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path), providers={"echo": BrokenProvider()}) as client:
        a = Api(client, KEY_A)
        tid = uid()
        r = await say(a, "hello", "boom-1", thread=tid)
        e = err(r, 500, "INTERNAL_ERROR")
        assert e["trace_id"] == "boom-1"
        assert e["type"] == "internal_error"
        for leak in (SECRET_DETAIL, "RuntimeError", "Traceback", 'File "', ".py"):
            assert leak not in r.text
        # Nothing was saved, and the id is still free.
        err(await a.thread(tid), 404, "THREAD_NOT_FOUND")
        assert ok(await a.get("/v1/threads"))["data"] == []
        # The app keeps serving.
        assert (await client.get("/health")).status_code == 200


async def test_unexpected_provider_exception_on_existing_thread_appends_nothing(tmp_path: Path) -> None:
    echo = EchoProvider()
    broken = BrokenProvider()

    class Switch:
        name = "echo"
        failing = False

        def context_window(self, model: str) -> int:
            return echo.context_window(model)

        def count_tokens(self, message: ChatMessage) -> int:
            return echo.count_tokens(message)

        async def complete(self, request: ModelRequest) -> Completion:
            return await (broken if self.failing else echo).complete(request)

        def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | Completion]:
            return (broken if self.failing else echo).stream(request)

    switch = Switch()
    async with running(make_settings(tmp_path), providers={"echo": switch}) as client:
        a = Api(client, KEY_A)
        tid = ok(await a.say("first"))["thread_id"]
        before = ok(await a.thread(tid))
        switch.failing = True
        err(await a.say("second", thread=tid), 500, "INTERNAL_ERROR")
        assert ok(await a.thread(tid)) == before
        switch.failing = False
        assert ok(await a.say("third", thread=tid))["output_text"] == "first\nthird"


async def test_unexpected_provider_exception_in_a_stream_ends_with_response_failed(tmp_path: Path) -> None:
    """SPEC §3.3: a stream ends with `response.completed` or `response.failed` (error as §8)."""
    async with running(make_settings(tmp_path), providers={"echo": BrokenProvider()}) as client:
        a = Api(client, KEY_A)
        tid = uid()
        try:
            r = await a.say("hello", thread=tid, stream=True)
        except Exception as exc:  # noqa: BLE001 - the failure under test
            pytest.fail(f"the stream broke off instead of ending with response.failed: {exc!r}")
        assert r.status_code == 200
        assert SECRET_DETAIL not in r.text and "Traceback" not in r.text
        events = sse_events(r.text)
        names = [n for n, _ in events]
        assert names[0] == "response.created"
        assert names[-1] == "response.failed", names
        assert "response.completed" not in names
        error = events[-1][1]["error"]
        assert error["code"] == "INTERNAL_ERROR"
        assert error["status"] == 500
        assert error["trace_id"] == r.headers["x-request-id"]
        err(await a.thread(tid), 404, "THREAD_NOT_FOUND")
