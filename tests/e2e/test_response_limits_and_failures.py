"""POST /v1/model/response at its limits (SPEC §6, §7): the message limit, the context budget, and
provider failures and unknown models, which save nothing and create no thread."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from providers.base import Completion, ModelRequest
from providers.echo import EchoProvider
from providers.errors import UpstreamFailed, UpstreamRateLimited, UpstreamTimeout
from tests.conftest import Api, err, ok, uid, user
from tests.e2e.responses_helpers import Recorder, gateway, turn

# -- the message limit --------------------------------------------------------------------------


async def test_message_limit_refuses_the_turn_that_would_pass_it(tmp_path: Path) -> None:
    async with gateway(tmp_path, max_messages_per_thread=4) as a:
        tid = uid()
        ok(await a.say("one", thread=tid))
        ok(await a.say("two", thread=tid))
        before = await a.messages(tid)
        err(await a.say("three", thread=tid), 409, "THREAD_MESSAGE_LIMIT")
        assert await a.messages(tid) == before
        thread = ok(await a.thread(tid))
        assert thread["message_count"] == 4
        assert thread["usage"]["input_tokens"] > 0


async def test_message_limit_applies_to_the_creating_turn(tmp_path: Path) -> None:
    async with gateway(tmp_path, max_messages_per_thread=4) as a:
        tid = uid()
        r = await turn(a, [user(f"m{i}") for i in range(4)], thread=tid)
        err(r, 409, "THREAD_MESSAGE_LIMIT")
        err(await a.thread(tid), 404, "THREAD_NOT_FOUND")
        assert ok(await a.get("/v1/threads"))["data"] == []
        # Exactly at the limit (3 inputs + 1 output) is fine.
        ok(await turn(a, [user(f"m{i}") for i in range(3)], thread=tid))
        assert ok(await a.thread(tid))["message_count"] == 4


# -- the context budget -------------------------------------------------------------------------


async def test_echo_sees_only_the_newest_history_that_fits(tmp_path: Path) -> None:
    async with gateway(tmp_path, echo_context_tokens=20) as a:
        tid = uid()
        long = "L" * 40  # 10 tokens, and its echo 10 more
        ok(await a.say(long, thread=tid))
        # 2 tokens of input leave 18: the answer (10) fits, the first user message (10) does not.
        body = ok(await a.say("short", thread=tid))
        assert body["output_text"] == "short"
        assert body["usage"]["input_tokens"] == 10 + 2
        assert ok(await a.thread(tid))["message_count"] == 4


async def test_context_keeps_older_system_messages_and_the_newest_turns(tmp_path: Path) -> None:
    rec = Recorder(window=20, reply="ok-ok-ok")  # every message below is 2 tokens
    async with gateway(tmp_path, providers={"echo": rec}) as a:
        tid = uid()
        ok(await turn(a, [{"role": "system", "content": "sys-rule"}, user("user-u1")], thread=tid))
        for i in range(2, 7):
            ok(await a.say(f"user-u{i}", thread=tid))
        ok(await a.say("user-u7", thread=tid))
        # 20 - 2 (input) - 2 (system) = 16: the four newest turns, nothing older.
        assert rec.last == [
            ("system", "sys-rule"),
            ("user", "user-u3"),
            ("assistant", "ok-ok-ok"),
            ("user", "user-u4"),
            ("assistant", "ok-ok-ok"),
            ("user", "user-u5"),
            ("assistant", "ok-ok-ok"),
            ("user", "user-u6"),
            ("assistant", "ok-ok-ok"),
            ("user", "user-u7"),
        ]
        # Nothing is dropped from the thread itself.
        assert ok(await a.thread(tid))["message_count"] == 15


async def test_inputs_alone_over_the_budget_are_refused_and_nothing_saved(tmp_path: Path) -> None:
    async with gateway(tmp_path, echo_context_tokens=20) as a:
        tid = uid()
        ok(await a.say("hi", thread=tid))
        before = await a.messages(tid)
        err(await a.say("x" * 100, thread=tid), 400, "CONTEXT_LENGTH_EXCEEDED")
        assert await a.messages(tid) == before
        assert ok(await a.thread(tid))["message_count"] == 2
        fresh = uid()
        err(await a.say("x" * 100, thread=fresh), 400, "CONTEXT_LENGTH_EXCEEDED")
        err(await a.thread(fresh), 404, "THREAD_NOT_FOUND")
        # Exactly the budget (80 characters = 20 tokens) still fits.
        ok(await a.say("y" * 80, thread=fresh))


async def test_previous_response_context_is_fitted_to_the_budget(tmp_path: Path) -> None:
    rec = Recorder(window=20, reply="ok-ok-ok")
    async with gateway(tmp_path, providers={"echo": rec}) as a:
        prev = ok(await turn(a, [{"role": "system", "content": "sys-rule"}, user("user-u1")]))
        for i in range(2, 8):
            prev = ok(await a.say(f"user-u{i}", previousResponseId=prev["id"]))
        assert rec.last == [
            ("system", "sys-rule"),
            ("user", "user-u3"),
            ("assistant", "ok-ok-ok"),
            ("user", "user-u4"),
            ("assistant", "ok-ok-ok"),
            ("user", "user-u5"),
            ("assistant", "ok-ok-ok"),
            ("user", "user-u6"),
            ("assistant", "ok-ok-ok"),
            ("user", "user-u7"),
        ]
        err(await a.say("z" * 100, previousResponseId=prev["id"]), 400, "CONTEXT_LENGTH_EXCEEDED")


class Failing(Recorder):
    """A provider whose every call raises what `make` builds (or sleeps `delay` seconds first)."""

    def __init__(self, make: Callable[[], Exception] | None, delay: float = 0.0) -> None:
        super().__init__()
        self.make = make
        self.delay = delay

    async def complete(self, request: ModelRequest) -> Completion:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.make is not None:
            raise self.make()
        return self._completion(request)


# -- provider failures --------------------------------------------------------------------------

FAILURES = [
    pytest.param(lambda: UpstreamFailed("bad", 500), 0.0, 502, "PROVIDER_ERROR", None, id="failed"),
    pytest.param(lambda: UpstreamRateLimited("x", "7"), 0.0, 429, "RATE_LIMITED", "7", id="rate-limited"),
    pytest.param(lambda: UpstreamTimeout("bad"), 0.0, 504, "PROVIDER_TIMEOUT", None, id="upstream-timeout"),
    pytest.param(None, 5.0, 504, "PROVIDER_TIMEOUT", None, id="slower-than-timeout"),
]


@pytest.mark.parametrize(("make", "delay", "status", "code", "retry_after"), FAILURES)
async def test_provider_failure_saves_nothing_and_creates_no_thread(
    tmp_path: Path,
    make: Callable[[], Exception] | None,
    delay: float,
    status: int,
    code: str,
    retry_after: str | None,
) -> None:
    providers = {"echo": EchoProvider(), "bad": Failing(make, delay)}
    async with gateway(tmp_path, providers=providers, provider_timeout_s=0.2) as a:
        tid = uid()
        ok(await a.say("one", thread=tid))
        before_msgs = await a.messages(tid)
        before = ok(await a.thread(tid))
        started = time.monotonic()
        r = await turn(a, [user("two")], thread=tid, model="bad/m")
        assert time.monotonic() - started < 3
        err(r, status, code)
        if retry_after is not None:
            assert r.headers["retry-after"] == retry_after
        after = ok(await a.thread(tid))
        assert await a.messages(tid) == before_msgs
        assert (after["message_count"], after["usage"]) == (before["message_count"], before["usage"])
        # A new named thread, and a new unnamed one, are not created either.
        fresh = uid()
        err(await turn(a, [user("x")], thread=fresh, model="bad/m"), status, code)
        err(await a.thread(fresh), 404, "THREAD_NOT_FOUND")
        err(await turn(a, [user("x")], model="bad/m"), status, code)
        listed = ok(await a.get("/v1/threads"))["data"]
        hidden = ok(await a.get("/v1/threads", params={"visible_in_ui": "false"}))["data"]
        assert [t["id"] for t in listed + hidden] == [tid]
        # The id the failed turn named was never used: a later turn may create it.
        assert ok(await a.say("later", thread=fresh))["thread_id"] == fresh


async def test_unknown_model_is_not_found_and_creates_nothing(a: Api) -> None:
    tid = uid()
    err(await turn(a, [user("x")], thread=tid, model="no-such-model"), 404, "MODEL_NOT_FOUND")
    err(await a.thread(tid), 404, "THREAD_NOT_FOUND")
