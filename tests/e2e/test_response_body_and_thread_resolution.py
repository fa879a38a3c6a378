"""POST /v1/model/response (SPEC §3): the response body, its usage, and how a turn resolves its
thread (`thread`, `thread_id`, a thread object, none, `store: false`) and its input items."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from tests.conftest import Api, err, ok, uid, user
from tests.e2e.responses_helpers import texts, turn


def tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


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
        # SPEC §10's additions for Freddy's clients.
        "createdAt",
        "success",
        "response",
        "response_id",
        "is_summarized",
        "assistant_id",
        # SPEC §12's: null without memory; `context_usage` on Freddy answers too.
        "memory_operation_id",
        "retrieved_memories",
        "context_usage",
    }
    # SPEC §12: how full the window was (echo's 32,768 tokens), no summary on a short thread.
    assert body["is_summarized"] is False
    assert body["context_usage"] == {
        "percent": round(100 * body["usage"]["input_tokens"] / 32_768, 2),
        "used_tokens": body["usage"]["input_tokens"],
        "context_limit": 32_768,
        "summary_tokens": 0,
        "model": "echo",
    }
    assert body["memory_operation_id"] is None and body["retrieved_memories"] is None
    assert re.fullmatch(r"resp_\w+", body["id"])
    assert body["object"] == "response"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", body["created_at"])
    assert body["status"] == "completed"
    assert body["model"] == "echo"
    assert re.fullmatch(r"thread_\w+", body["thread_id"])
    assert body["previous_response_id"] is None
    [item] = body["output"]
    assert set(item) == {"id", "type", "role", "texts", "status", "content"}
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
