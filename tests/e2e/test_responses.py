"""POST /v1/model/response (SPEC §3, §6, §7): bodies, resolution, history, limits, failures, expiry."""

from __future__ import annotations

import asyncio
import math
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from providers.base import ChatMessage, Completion, ModelRequest, TextDelta
from providers.echo import EchoProvider
from providers.errors import UpstreamFailed, UpstreamRateLimited, UpstreamTimeout
from tests.conftest import BACKEND, KEY_A, KEY_B, Api, err, make_settings, ok, running, uid, user

# -- helpers ------------------------------------------------------------------------------------


class FakeClock:
    """Integer microseconds, starting at the real time, moved only by `advance`."""

    def __init__(self) -> None:
        self.now = time.time_ns() // 1000

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1_000_000)


class Recorder:
    """A provider that remembers exactly what it was sent and answers with a fixed text."""

    name = "recorder"

    def __init__(self, window: int = 32_768, reply: str = "ok") -> None:
        self.window = window
        self.reply = reply
        self.requests: list[ModelRequest] = []

    @property
    def last(self) -> list[tuple[str, str]]:
        return [(m.role, m.text) for m in self.requests[-1].messages]

    def context_window(self, model: str) -> int:
        return self.window

    def count_tokens(self, message: ChatMessage) -> int:
        return math.ceil(message.chars / 4)

    def _completion(self, request: ModelRequest) -> Completion:
        self.requests.append(request)
        return Completion(
            text=self.reply,
            input_tokens=sum(self.count_tokens(m) for m in request.messages),
            output_tokens=math.ceil(len(self.reply) / 4),
        )

    async def complete(self, request: ModelRequest) -> Completion:
        return self._completion(request)

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | Completion]:
        completion = self._completion(request)
        yield TextDelta(completion.text)
        yield completion


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


@asynccontextmanager
async def gateway(
    tmp_path: Path,
    *,
    providers: dict[str, Any] | None = None,
    clock: Callable[[], int] | None = None,
    **overrides: Any,
) -> AsyncIterator[Api]:
    kwargs: dict[str, Any] = {}
    if providers is not None:
        kwargs["providers"] = providers
    if clock is not None:
        kwargs["clock"] = clock
    async with running(make_settings(tmp_path, **overrides), **kwargs) as client:
        yield Api(client, KEY_A)


def texts(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["role"], "\n".join(t["text"] for t in m["texts"])) for m in messages]


def tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


async def turn(api: Api, inputs: list[dict[str, Any]], **fields: Any) -> Any:
    return await api.post("/v1/model/response", json={"model": "echo", "inputs": inputs, **fields})


# -- the response body --------------------------------------------------------------------------


async def test_response_body_has_exactly_the_documented_fields(a: Api) -> None:
    body = ok(await a.say("Hello"))
    assert set(body) == {
        "id",
        "object",
        "created_at",
        "status",
        "model",
        "thread_id",
        "previous_response_id",
        "output",
        "output_text",
        "usage",
    }
    assert re.fullmatch(r"resp_\w+", body["id"])
    assert body["object"] == "response"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", body["created_at"])
    assert body["status"] == "completed"
    assert body["model"] == "echo"
    assert re.fullmatch(r"thread_\w+", body["thread_id"])
    assert body["previous_response_id"] is None
    [item] = body["output"]
    assert set(item) == {"id", "type", "role", "texts"}
    assert re.fullmatch(r"msg_\w+", item["id"])
    assert (item["type"], item["role"], item["texts"]) == ("message", "assistant", [{"text": "Hello"}])
    assert body["output_text"] == "Hello"
    assert set(body["usage"]) == {"input_tokens", "output_tokens", "total_tokens"}
    u = body["usage"]
    assert u["total_tokens"] == u["input_tokens"] + u["output_tokens"]


async def test_each_response_gets_a_new_id(a: Api) -> None:
    tid = uid()
    ids = {ok(await a.say(f"m{i}", thread=tid))["id"] for i in range(3)}
    assert len(ids) == 3


async def test_echo_usage_counts_ceil_chars_over_four_per_message_and_thread_sums_it(a: Api) -> None:
    tid = uid()
    first = ok(await a.say("hello", thread=tid))
    assert first["usage"] == {"input_tokens": 2, "output_tokens": 2, "total_tokens": 4}
    # One message of three texts is 3 characters: 1 token (per message, not per text).
    second = ok(
        await turn(a, [{"role": "user", "texts": [{"text": "a"}, {"text": "b"}, {"text": "c"}]}], thread=tid)
    )
    assert second["output_text"] == "hello\na\nb\nc"
    # History "hello" (2) + answer "hello" (2) + the new message (1).
    assert second["usage"] == {
        "input_tokens": 5,
        "output_tokens": tokens("hello\na\nb\nc"),
        "total_tokens": 8,
    }
    thread = ok(await a.thread(tid))
    assert thread["usage"] == {
        "input_tokens": first["usage"]["input_tokens"] + second["usage"]["input_tokens"],
        "output_tokens": first["usage"]["output_tokens"] + second["usage"]["output_tokens"],
    }


# -- thread resolution --------------------------------------------------------------------------


async def test_string_thread_creates_that_id_and_thread_id_continues_it(a: Api) -> None:
    tid = uid()
    first = ok(await a.say("one", thread=tid))
    assert first["thread_id"] == tid
    second = ok(await a.say("two", thread_id=tid))
    assert second["thread_id"] == tid
    assert second["output_text"] == "one\ntwo"
    thread = ok(await a.thread(tid))
    assert thread["message_count"] == 4
    assert thread["visible_in_ui"] is True
    assert texts(await a.messages(tid)) == [
        ("user", "one"),
        ("assistant", "one"),
        ("user", "two"),
        ("assistant", "one\ntwo"),
    ]


async def test_thread_object_stores_its_metadata_on_creation(a: Api) -> None:
    tid = uid()
    body = ok(await a.say("hi", thread={"id": tid, "metadata": {"userId": "user_123", "n": 1}}))
    assert body["thread_id"] == tid
    thread = ok(await a.thread(tid))
    assert thread["metadata"] == {"userId": "user_123", "n": 1}
    assert thread["message_count"] == 2
    again = ok(await a.say("again", thread={"id": tid}))
    assert again["output_text"] == "hi\nagain"


async def test_thread_and_thread_id_equal_is_accepted(a: Api) -> None:
    tid = uid()
    body = ok(await a.say("hi", thread=tid, thread_id=tid))
    assert body["thread_id"] == tid
    assert ok(await a.thread(tid))["message_count"] == 2


async def test_thread_and_thread_id_different_is_conflict_and_nothing_created(a: Api) -> None:
    t1, t2 = uid(), uid()
    err(await a.say("hi", thread=t1, thread_id=t2), 400, "CONFLICTING_PARAMETERS")
    err(await a.thread(t1), 404, "THREAD_NOT_FOUND")
    err(await a.thread(t2), 404, "THREAD_NOT_FOUND")


async def test_no_thread_creates_a_visible_thread_with_generated_id(a: Api) -> None:
    body = ok(await a.say("hi"))
    tid = body["thread_id"]
    assert re.fullmatch(r"thread_[A-Za-z0-9]+", tid)
    thread = ok(await a.thread(tid))
    assert (thread["message_count"], thread["visible_in_ui"]) == (2, True)
    listed = ok(await a.get("/v1/threads"))
    assert tid in [t["id"] for t in listed["data"]]
    other = ok(await a.say("hi"))
    assert other["thread_id"] != tid


@pytest.mark.parametrize("named", [True, False])
async def test_store_false_creates_a_hidden_but_usable_thread(a: Api, named: bool) -> None:
    fields: dict[str, Any] = {"store": False}
    if named:
        fields["thread"] = uid()
    tid = ok(await a.say("secret", **fields))["thread_id"]
    assert ok(await a.thread(tid))["visible_in_ui"] is False
    assert tid not in [t["id"] for t in ok(await a.get("/v1/threads"))["data"]]
    hidden = ok(await a.get("/v1/threads", params={"visible_in_ui": "false"}))
    assert tid in [t["id"] for t in hidden["data"]]
    assert ok(await a.say("more", thread=tid))["output_text"] == "secret\nmore"


async def test_store_false_on_an_existing_thread_changes_nothing(a: Api) -> None:
    tid = uid()
    ok(await a.say("one", thread=tid))
    ok(await a.say("two", thread=tid, store=False))
    assert ok(await a.thread(tid))["visible_in_ui"] is True


async def test_content_form_of_an_input_is_accepted_and_saved_as_texts(a: Api) -> None:
    tid = uid()
    body = ok(await turn(a, [{"role": "user", "content": "plain words"}], thread=tid))
    assert body["output_text"] == "plain words"
    msgs = await a.messages(tid)
    assert msgs[0]["texts"] == [{"text": "plain words"}]
    assert msgs[0]["role"] == "user"


async def test_an_output_item_sent_back_as_input_is_accepted(a: Api) -> None:
    tid = uid()
    first = ok(await a.say("one", thread=tid))
    item = first["output"][0]
    assert {"id", "type"} <= set(item)
    second = ok(await turn(a, [item, user("two")], thread=tid))
    assert second["output_text"] == "one\ntwo"
    msgs = await a.messages(tid)
    assert texts(msgs) == [
        ("user", "one"),
        ("assistant", "one"),
        ("assistant", "one"),
        ("user", "two"),
        ("assistant", "one\ntwo"),
    ]
    ids = [m["id"] for m in msgs]
    assert len(set(ids)) == len(ids)


async def test_unknown_input_fields_are_rejected(a: Api) -> None:
    r = await turn(a, [{"role": "user", "texts": [{"text": "x"}], "bogus": 1}])
    err(r, 422, "VALIDATION_ERROR")


# -- what the provider receives -----------------------------------------------------------------


async def test_provider_receives_history_in_order_then_inputs_system_kept(tmp_path: Path) -> None:
    rec = Recorder()
    async with gateway(tmp_path, providers={"echo": rec}) as a:
        tid = uid()
        ok(await turn(a, [{"role": "system", "content": "You are terse."}, user("first")], thread=tid))
        assert rec.last == [("system", "You are terse."), ("user", "first")]
        ok(await a.say("second", thread=tid))
        ok(await turn(a, [user("third-a"), user("third-b")], thread=tid))
        assert rec.last == [
            ("system", "You are terse."),
            ("user", "first"),
            ("assistant", "ok"),
            ("user", "second"),
            ("assistant", "ok"),
            ("user", "third-a"),
            ("user", "third-b"),
        ]


async def test_instructions_reach_the_model_once_and_are_not_saved(tmp_path: Path) -> None:
    rec = Recorder()
    async with gateway(tmp_path, providers={"echo": rec}) as a:
        tid = uid()
        ok(await a.say("hi", thread=tid, instructions="Answer in French."))
        got = rec.last
        assert got.count(("system", "Answer in French.")) == 1
        assert [m for m in got if m != ("system", "Answer in French.")] == [("user", "hi")]
        assert texts(await a.messages(tid)) == [("user", "hi"), ("assistant", "ok")]
        assert ok(await a.thread(tid))["message_count"] == 2
        ok(await a.say("again", thread=tid))
        assert rec.last == [("user", "hi"), ("assistant", "ok"), ("user", "again")]


# -- threadState --------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "code"), [("locked", "THREAD_LOCKED"), ("archived", "THREAD_ARCHIVED")])
async def test_thread_state_closes_the_thread_after_saving_the_final_turn(
    a: Api, state: str, code: str
) -> None:
    tid = uid()
    ok(await a.say("one", thread=tid))
    final = ok(await a.say("goodbye", thread=tid, threadState=state))
    assert final["output_text"] == "one\ngoodbye"
    thread = ok(await a.thread(tid))
    assert (thread["state"], thread["message_count"]) == (state, 4)
    before = await a.messages(tid)
    assert texts(before)[-2:] == [("user", "goodbye"), ("assistant", "one\ngoodbye")]
    err(await a.say("more", thread=tid), 409, code)
    assert await a.messages(tid) == before
    assert ok(await a.thread(tid))["message_count"] == 4


async def test_thread_state_on_the_creating_turn_saves_it_then_locks(a: Api) -> None:
    tid = uid()
    ok(await a.say("only", thread=tid, threadState="locked"))
    thread = ok(await a.thread(tid))
    assert (thread["state"], thread["message_count"]) == ("locked", 2)
    err(await a.say("more", thread=tid), 409, "THREAD_LOCKED")


async def test_thread_state_open_on_an_open_thread_is_a_no_op(a: Api) -> None:
    tid = uid()
    ok(await a.say("one", thread=tid, threadState="open"))
    ok(await a.say("two", thread=tid, threadState="open"))
    thread = ok(await a.thread(tid))
    assert (thread["state"], thread["message_count"]) == ("open", 4)


# -- previousResponseId -------------------------------------------------------------------------


async def test_previous_response_chain_of_three_sees_everything(a: Api) -> None:
    r1 = ok(await a.say("one"))
    r2 = ok(await a.say("two", previousResponseId=r1["id"]))
    assert (r2["thread_id"], r2["previous_response_id"]) == (None, r1["id"])
    assert r2["output_text"] == "one\ntwo"
    r3 = ok(await a.say("three", previousResponseId=r2["id"]))
    assert (r3["thread_id"], r3["previous_response_id"]) == (None, r2["id"])
    assert r3["output_text"] == "one\ntwo\nthree"
    # The context of r2: "one" (1), "one" (1), "two" (1).
    assert r2["usage"]["input_tokens"] == 3


async def test_previous_response_branches_and_leaves_the_thread_alone(a: Api) -> None:
    tid = uid()
    r1 = ok(await a.say("one", thread=tid))
    ok(await a.say("two", previousResponseId=r1["id"]))
    branch = ok(await a.say("other", previousResponseId=r1["id"]))
    assert branch["output_text"] == "one\nother"
    assert branch["previous_response_id"] == r1["id"]
    assert branch["thread_id"] is None
    thread = ok(await a.thread(tid))
    assert thread["message_count"] == 2
    assert texts(await a.messages(tid)) == [("user", "one"), ("assistant", "one")]
    assert thread["usage"] == {
        "input_tokens": r1["usage"]["input_tokens"],
        "output_tokens": r1["usage"]["output_tokens"],
    }


async def test_previous_response_does_not_carry_earlier_instructions(tmp_path: Path) -> None:
    rec = Recorder()
    async with gateway(tmp_path, providers={"echo": rec}) as a:
        r1 = ok(await a.say("hi", instructions="SECRET RULES"))
        assert ("system", "SECRET RULES") in rec.last
        r2 = ok(await a.say("next", previousResponseId=r1["id"]))
        assert rec.last == [("user", "hi"), ("assistant", "ok"), ("user", "next")]
        ok(await a.say("last", previousResponseId=r2["id"], instructions="NEW"))
        assert [m for m in rec.last if m != ("system", "NEW")] == [
            ("user", "hi"),
            ("assistant", "ok"),
            ("user", "next"),
            ("assistant", "ok"),
            ("user", "last"),
        ]


async def test_previous_response_conflicts_with_thread_fields(a: Api) -> None:
    r1 = ok(await a.say("one"))
    for extra in ({"thread": uid()}, {"thread_id": uid()}, {"threadState": "locked"}):
        err(await a.say("x", previousResponseId=r1["id"], **extra), 400, "CONFLICTING_PARAMETERS")
    assert ok(await a.thread(r1["thread_id"]))["message_count"] == 2


async def test_previous_response_unknown_or_of_another_org_is_not_found(a: Api, b: Api) -> None:
    r1 = ok(await a.say("one"))
    unknown = err(await a.say("x", previousResponseId="resp_doesnotexist"), 404, "RESPONSE_NOT_FOUND")
    foreign = err(await b.say("x", previousResponseId=r1["id"]), 404, "RESPONSE_NOT_FOUND")
    assert unknown["type"] == foreign["type"]


async def test_previous_response_expires_after_its_ttl(tmp_path: Path) -> None:
    clock = FakeClock()
    async with gateway(tmp_path, clock=clock, response_ttl_s=60) as a:
        r1 = ok(await a.say("one"))
        clock.advance(59)
        r2 = ok(await a.say("two", previousResponseId=r1["id"]))
        clock.advance(2)
        err(await a.say("late", previousResponseId=r1["id"]), 404, "RESPONSE_NOT_FOUND")
        # r2 was made 2 s ago: still alive, and it still carries what r1 saw.
        r3 = ok(await a.say("three", previousResponseId=r2["id"]))
        assert r3["output_text"] == "one\ntwo\nthree"
        clock.advance(60)
        err(await a.say("later", previousResponseId=r2["id"]), 404, "RESPONSE_NOT_FOUND")


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


# -- thread expiry ------------------------------------------------------------------------------

EXPIRY = {"thread_idle_ttl_s": 10, "thread_max_age_s": 100}


async def test_idle_open_thread_expires_and_is_not_reborn_by_a_turn(tmp_path: Path) -> None:
    clock = FakeClock()
    async with gateway(tmp_path, clock=clock, **EXPIRY) as a:
        tid = uid()
        ok(await a.say("one", thread=tid))
        clock.advance(9)
        ok(await a.thread(tid))
        clock.advance(2)
        err(await a.thread(tid), 404, "THREAD_NOT_FOUND")
        err(await a.get(f"/v1/threads/{tid}/messages"), 404, "THREAD_NOT_FOUND")
        err(await a.say("two", thread=tid), 404, "THREAD_NOT_FOUND")
        err(await a.say("two", thread_id=tid), 404, "THREAD_NOT_FOUND")
        err(await a.thread(tid), 404, "THREAD_NOT_FOUND")


async def test_a_turn_resets_the_idle_limit(tmp_path: Path) -> None:
    clock = FakeClock()
    async with gateway(tmp_path, clock=clock, **EXPIRY) as a:
        tid = uid()
        ok(await a.say("one", thread=tid))
        clock.advance(7)
        ok(await a.say("two", thread=tid))
        clock.advance(7)  # 14 s after creation, 7 s after the last turn
        assert ok(await a.thread(tid))["message_count"] == 4
        clock.advance(4)
        err(await a.thread(tid), 404, "THREAD_NOT_FOUND")


@pytest.mark.parametrize("state", ["locked", "archived"])
async def test_closed_threads_outlive_the_idle_limit_but_not_the_age_limit(
    tmp_path: Path, state: str
) -> None:
    clock = FakeClock()
    async with gateway(tmp_path, clock=clock, **EXPIRY) as a:
        tid = uid()
        ok(await a.say("one", thread=tid, threadState=state))
        clock.advance(50)
        thread = ok(await a.thread(tid))
        assert (thread["state"], thread["message_count"]) == (state, 2)
        assert len(await a.messages(tid)) == 2
        clock.advance(51)
        err(await a.thread(tid), 404, "THREAD_NOT_FOUND")


async def test_open_thread_expires_at_the_age_limit_despite_activity(tmp_path: Path) -> None:
    clock = FakeClock()
    async with gateway(tmp_path, clock=clock, **EXPIRY) as a:
        tid = uid()
        ok(await a.say("start", thread=tid))
        for _ in range(12):
            clock.advance(8)
            ok(await a.say("keep alive", thread=tid))
        # 96 s of activity are fine; 5 s idle later the 100 s age limit has passed.
        clock.advance(5)
        err(await a.thread(tid), 404, "THREAD_NOT_FOUND")


async def test_explicit_create_may_reuse_an_expired_id(tmp_path: Path) -> None:
    clock = FakeClock()
    async with gateway(tmp_path, clock=clock, **EXPIRY) as a:
        tid = uid()
        ok(await a.say("old secret", thread=tid))
        clock.advance(11)
        err(await a.say("x", thread=tid), 404, "THREAD_NOT_FOUND")
        r = await a.post("/v1/threads", json={"id": tid})
        assert r.status_code == 201, r.text
        assert r.json()["message_count"] == 0
        body = ok(await a.say("new", thread=tid))
        assert body["output_text"] == "new"
        assert texts(await a.messages(tid)) == [("user", "new"), ("assistant", "new")]


def _rows(db_path: Path, sql: str, *args: Any) -> int:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return int(db.execute(sql, args).fetchone()[0])
    finally:
        db.close()


async def _until(check: Callable[[], bool], within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


@pytest.mark.skipif(
    BACKEND != "sqlite", reason="reads the SQLite file; MongoDB's purge is in the store contract suite"
)
async def test_background_purge_removes_expired_threads_and_responses(tmp_path: Path) -> None:
    clock = FakeClock()
    db = tmp_path / "gateway.sqlite3"
    async with gateway(tmp_path, clock=clock, purge_interval_s=0.1, response_ttl_s=30, **EXPIRY) as a:
        gone, kept = uid(), uid()
        r1 = ok(await a.say("expiring", thread=gone))
        ok(await a.say("two", thread=gone))
        ok(await a.say("kept", thread=kept, threadState="locked"))
        standalone = ok(await a.say("free", previousResponseId=r1["id"]))

        def count(table: str, column: str, value: str) -> int:
            return _rows(db, f"SELECT count(*) FROM {table} WHERE {column} = ?", value)

        assert count("threads", "id", gone) == 1
        assert count("messages", "thread_id", gone) == 4
        assert count("responses", "id", standalone["id"]) == 1
        await asyncio.sleep(0.3)  # a purge round with nothing expired removes nothing
        assert count("messages", "thread_id", gone) == 4

        clock.advance(31)  # past the idle limit and the response TTL, not the age limit
        assert await _until(
            lambda: (
                count("threads", "id", gone) == 0
                and count("messages", "thread_id", gone) == 0
                and count("responses", "thread_id", gone) == 0
                and count("responses", "id", standalone["id"]) == 0
            )
        )
        assert count("threads", "id", kept) == 1
        assert count("messages", "thread_id", kept) == 2
        # Purged, yet remembered: the id is not reborn.
        err(await a.say("again", thread=gone), 404, "THREAD_NOT_FOUND")
        err(await a.say("x", previousResponseId=standalone["id"]), 404, "RESPONSE_NOT_FOUND")
        assert ok(await a.thread(kept))["state"] == "locked"


async def test_expired_thread_is_not_found_for_another_org_either(tmp_path: Path) -> None:
    clock = FakeClock()
    async with gateway(tmp_path, clock=clock, **EXPIRY) as a:
        b = Api(a.client, KEY_B)
        tid = uid()
        ok(await a.say("one", thread=tid))
        # Same id in another org is a different thread and unaffected by a's expiry.
        ok(await b.say("bee", thread=tid))
        clock.advance(5)
        ok(await b.say("bee2", thread=tid))
        clock.advance(6)
        err(await a.thread(tid), 404, "THREAD_NOT_FOUND")
        assert ok(await b.thread(tid))["message_count"] == 4


async def test_previous_response_of_a_thread_turn_is_rebuilt_from_the_store_without_a_cache(
    tmp_path: Path,
) -> None:
    from gateway.store.cache import NullCache

    async with running(make_settings(tmp_path), cache=NullCache()) as client:
        a = Api(client, KEY_A)
        tid = uid()
        ok(
            await a.post(
                "/v1/model/response",
                json={
                    "model": "echo",
                    "thread": tid,
                    "inputs": [{"role": "system", "content": "be brief"}, user("one")],
                },
            )
        )
        r2 = ok(await a.say("two", thread=tid))
        ok(await a.say("three", thread=tid))  # after r2: not part of what r2 saw
        r4 = ok(
            await a.post(
                "/v1/model/response",
                json={"model": "echo", "previousResponseId": r2["id"], "inputs": [user("branch")]},
            )
        )
        # r2 saw: the system message, "one", its answer, "two"; then r2's own answer; then "branch".
        assert r4["output_text"].splitlines() == ["one", "two", "branch"]
