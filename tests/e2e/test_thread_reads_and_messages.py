"""GET /v1/threads/{id} and GET /v1/threads/{id}/messages over HTTP (SPEC §4): one thread, its counts
and usage, and its messages in both orders, paged by limit and cursor."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import Api, err, ok, uid
from tests.e2e.threads_helpers import MESSAGE_FIELDS, converse, create, message_page, patch, ts

# -- GET /v1/threads/{id} -------------------------------------------------------------------------


async def test_get_thread_returns_hidden_thread(a: Api) -> None:
    tid = uid("hidden")
    made = await create(a, id=tid, visible_in_ui=False, metadata={"k": "v"})
    got = ok(await a.thread(tid))
    assert got == made
    assert got["visible_in_ui"] is False


async def test_get_unknown_thread_is_not_found(a: Api) -> None:
    err(await a.thread("never_made"), 404, "THREAD_NOT_FOUND")


async def test_get_other_organizations_thread_answers_as_absent(a: Api, b: Api) -> None:
    tid = uid("private")
    await create(a, id=tid)
    absent = err(await b.thread(uid("private")), 404, "THREAD_NOT_FOUND")
    other = err(await b.thread(tid), 404, "THREAD_NOT_FOUND")
    assert other["type"] == absent["type"]
    assert other["message"].replace(tid, "ID") == re.sub(r"private_[0-9a-f]{12}", "ID", absent["message"])
    err(await b.get(f"/v1/threads/{tid}/messages"), 404, "THREAD_NOT_FOUND")
    err(await patch(b, tid, metadata={"x": 1}), 404, "THREAD_NOT_FOUND")
    err(await b.delete(f"/v1/threads/{tid}"), 404, "THREAD_NOT_FOUND")
    assert ok(await a.thread(tid))["metadata"] == {}


async def test_thread_counts_messages_and_sums_usage_over_turns(a: Api) -> None:
    tid, responses = await converse(a, 3)
    thread = ok(await a.thread(tid))
    assert thread["message_count"] == 6
    assert thread["usage"] == {
        "input_tokens": sum(r["usage"]["input_tokens"] for r in responses),
        "output_tokens": sum(r["usage"]["output_tokens"] for r in responses),
    }
    assert thread["usage"]["input_tokens"] > 0 and thread["usage"]["output_tokens"] > 0
    assert thread["last_message_at"] is not None
    assert ts(thread["last_message_at"]) >= ts(thread["created_at"])


# -- GET /v1/threads/{id}/messages ----------------------------------------------------------------


async def test_messages_objects_and_ascending_default_order(a: Api) -> None:
    tid, responses = await converse(a, 3)
    page = await message_page(a, tid)
    msgs = page["data"]
    assert page["has_more"] is False
    assert len(msgs) == 6
    for m in msgs:
        assert set(m) == MESSAGE_FIELDS
        assert re.fullmatch(r"msg_[A-Za-z0-9]+", m["id"]), m["id"]
        assert m["object"] == "thread.message"
        assert m["thread_id"] == tid
        ts(m["created_at"])
    assert len({m["id"] for m in msgs}) == 6
    assert [m["role"] for m in msgs] == ["user", "assistant"] * 3
    assert [m["texts"] for m in msgs] == [
        [{"text": "m0"}],
        [{"text": "m0"}],
        [{"text": "m1"}],
        [{"text": "m0\nm1"}],
        [{"text": "m2"}],
        [{"text": "m0\nm1\nm2"}],
    ]
    for i, r in enumerate(responses):
        user_msg, answer = msgs[2 * i], msgs[2 * i + 1]
        assert user_msg["response_id"] == answer["response_id"] == r["id"]
        assert answer["id"] == r["output"][0]["id"]
    assert msgs == await a.messages(tid, order="asc")


async def test_messages_of_one_turn_with_several_inputs_share_response_id(a: Api) -> None:
    tid = uid("multi")
    body = {
        "model": "echo",
        "thread": tid,
        "inputs": [
            {"role": "system", "texts": [{"text": "be brief"}]},
            {"role": "user", "texts": [{"text": "one"}, {"text": "two"}]},
            {"role": "user", "content": "three"},
        ],
    }
    r = ok(await a.post("/v1/model/response", json=body))
    msgs = await a.messages(tid)
    assert [m["role"] for m in msgs] == ["system", "user", "user", "assistant"]
    assert msgs[1]["texts"] == [{"text": "one"}, {"text": "two"}]
    assert msgs[2]["texts"] == [{"text": "three"}]
    assert {m["response_id"] for m in msgs} == {r["id"]}


async def test_messages_descending_order(a: Api) -> None:
    tid, _ = await converse(a, 3)
    asc = (await message_page(a, tid))["data"]
    desc = (await message_page(a, tid, order="desc"))["data"]
    assert desc == asc[::-1]
    assert desc[0]["role"] == "assistant" and desc[0]["texts"] == [{"text": "m0\nm1\nm2"}]


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_messages_after_cursor_walks_all_messages_once(a: Api, order: str) -> None:
    tid, _ = await converse(a, 11)
    everything = (await message_page(a, tid, limit=100, order=order))["data"]
    assert len(everything) == 22
    seen: list[dict[str, Any]] = []
    after: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 5, "order": order}
        if after is not None:
            params["after"] = after
        page = await message_page(a, tid, **params)
        pages += 1
        seen += page["data"]
        if not page["has_more"]:
            break
        assert len(page["data"]) == 5
        after = page["last_id"]
        assert pages < 20
    assert pages == 5
    assert seen == everything
    assert len({m["id"] for m in seen}) == 22
    user_texts = [m["texts"][0]["text"] for m in seen if m["role"] == "user"]
    expected = [f"m{i}" for i in range(11)]
    assert user_texts == (expected if order == "asc" else expected[::-1])


async def test_messages_default_limit_is_20(a: Api) -> None:
    tid, _ = await converse(a, 11)
    page = await message_page(a, tid)
    assert len(page["data"]) == 20
    assert page["has_more"] is True
    rest = await message_page(a, tid, after=page["last_id"])
    assert len(rest["data"]) == 2 and rest["has_more"] is False


async def test_messages_limit_bounds(a: Api) -> None:
    tid, _ = await converse(a, 2)
    for bad in ("0", "101", "-5", "many"):
        err(await a.get(f"/v1/threads/{tid}/messages", params={"limit": bad}), 422, "VALIDATION_ERROR")
    one = await message_page(a, tid, limit=1)
    assert len(one["data"]) == 1 and one["has_more"] is True
    hundred = await message_page(a, tid, limit=100)
    assert len(hundred["data"]) == 4 and hundred["has_more"] is False


async def test_messages_invalid_order_and_unknown_cursor_are_validation_errors(a: Api) -> None:
    tid, _ = await converse(a, 1)
    other, _ = await converse(a, 1)
    err(await a.get(f"/v1/threads/{tid}/messages", params={"order": "sideways"}), 422, "VALIDATION_ERROR")
    err(await a.get(f"/v1/threads/{tid}/messages", params={"after": "msg_nothing"}), 422, "VALIDATION_ERROR")
    # A message of another thread is no cursor of this one.
    foreign = (await message_page(a, other))["first_id"]
    err(await a.get(f"/v1/threads/{tid}/messages", params={"after": foreign}), 422, "VALIDATION_ERROR")


async def test_messages_of_new_thread_are_empty(a: Api) -> None:
    tid = (await create(a))["id"]
    page = await message_page(a, tid)
    assert page == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
        "limit": 20,
    }


async def test_messages_of_unknown_thread_is_not_found(a: Api) -> None:
    err(await a.get("/v1/threads/nope_nothing/messages"), 404, "THREAD_NOT_FOUND")
