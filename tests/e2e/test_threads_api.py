"""/v1/threads over HTTP: SPEC §4 (threads, messages, lifecycle) and §5 (visibility, `store`)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import KEY_A, ORG_A, ORG_B, Api, err, make_settings, ok, running, uid

THREAD_FIELDS = {
    "id",
    "object",
    "organization_id",
    "state",
    "visible_in_ui",
    "metadata",
    "message_count",
    "usage",
    "created_at",
    "updated_at",
    "last_message_at",
    "expires_at",
}
MESSAGE_FIELDS = {"id", "object", "thread_id", "role", "texts", "response_id", "created_at"}
LIST_FIELDS = {"object", "data", "first_id", "last_id", "has_more"}


# -- helpers ------------------------------------------------------------------------------------------


def created(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 201, (r.status_code, r.text[:500])
    body: dict[str, Any] = r.json()
    return body


def ts(value: str) -> datetime:
    """An RFC 3339 UTC timestamp, parsed (fails on anything else)."""
    assert isinstance(value, str) and value.endswith("Z"), value
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    return parsed


async def create(api: Api, **body: Any) -> dict[str, Any]:
    return created(await api.post("/v1/threads", json=body))


async def patch(api: Api, tid: str, **body: Any) -> httpx.Response:
    return await api.patch(f"/v1/threads/{tid}", json=body)


async def set_state(api: Api, tid: str, state: str) -> dict[str, Any]:
    thread = ok(await patch(api, tid, state=state))
    assert thread["state"] == state
    return thread


async def list_page(api: Api, **params: Any) -> dict[str, Any]:
    page = ok(await api.get("/v1/threads", params=params))
    assert set(page) == LIST_FIELDS, page
    assert page["object"] == "list"
    data = page["data"]
    assert page["first_id"] == (data[0]["id"] if data else None)
    assert page["last_id"] == (data[-1]["id"] if data else None)
    return page


async def listed_ids(api: Api, **params: Any) -> list[str]:
    """Every thread id of a listing, walking all pages."""
    ids: list[str] = []
    after: str | None = None
    for _ in range(1000):
        q = {"limit": 100, **params}
        if after is not None:
            q["after"] = after
        page = await list_page(api, **q)
        ids += [t["id"] for t in page["data"]]
        if not page["has_more"]:
            return ids
        after = page["last_id"]
    raise AssertionError("thread pagination did not end")


async def message_page(api: Api, tid: str, **params: Any) -> dict[str, Any]:
    page = ok(await api.get(f"/v1/threads/{tid}/messages", params=params))
    assert set(page) == LIST_FIELDS, page
    assert page["object"] == "list"
    data = page["data"]
    assert page["first_id"] == (data[0]["id"] if data else None)
    assert page["last_id"] == (data[-1]["id"] if data else None)
    return page


async def converse(api: Api, turns: int) -> tuple[str, list[dict[str, Any]]]:
    """A thread of `turns` turns `m0`, `m1`, ...; returns its id and the responses."""
    first = ok(await api.say("m0"))
    tid = first["thread_id"]
    responses = [first]
    for i in range(1, turns):
        responses.append(ok(await api.say(f"m{i}", thread=tid)))
    return tid, responses


def meta_of_size(size: int) -> dict[str, str]:
    """Metadata whose compact JSON is exactly `size` bytes: `{"k":"xx..."}` is 8 + n bytes."""
    meta = {"k": "x" * (size - 8)}
    assert len(httpx.Response(200, json=meta).content) == size  # compact, as httpx sends it
    return meta


# -- POST /v1/threads -----------------------------------------------------------------------------


async def test_create_returns_full_thread_object(a: Api) -> None:
    thread = await create(a, id="support_user123_ticket789", metadata={"userId": "user_123"})
    assert set(thread) == THREAD_FIELDS
    assert thread["id"] == "support_user123_ticket789"
    assert thread["object"] == "thread"
    assert thread["organization_id"] == ORG_A
    assert thread["state"] == "open"
    assert thread["visible_in_ui"] is True
    assert thread["metadata"] == {"userId": "user_123"}
    assert thread["message_count"] == 0
    assert thread["usage"] == {"input_tokens": 0, "output_tokens": 0}
    assert thread["last_message_at"] is None
    created_at, updated_at, expires_at = (ts(thread[k]) for k in ("created_at", "updated_at", "expires_at"))
    assert updated_at >= created_at
    assert expires_at > created_at
    # The stored thread is the one answered.
    assert ok(await a.thread(thread["id"])) == thread


async def test_create_answers_organization_of_the_key(a: Api, b: Api) -> None:
    assert (await create(a))["organization_id"] == ORG_A
    assert (await create(b))["organization_id"] == ORG_B


async def test_create_with_mismatched_organization_id_is_forbidden(a: Api) -> None:
    tid = uid("thr")
    err(
        await a.post("/v1/threads", json={"id": tid, "organization_id": ORG_B}),
        403,
        "ORGANIZATION_ACCESS_DENIED",
    )
    err(await a.thread(tid), 404, "THREAD_NOT_FOUND")
    assert (await create(a, id=uid("thr"), organization_id=ORG_A))["organization_id"] == ORG_A


async def test_create_without_id_generates_thread_id(a: Api) -> None:
    first = await create(a)
    second = await create(a)
    for thread in (first, second):
        assert re.fullmatch(r"thread_[A-Za-z0-9]+", thread["id"]), thread["id"]
        assert ok(await a.thread(thread["id"]))["id"] == thread["id"]
    assert first["id"] != second["id"]


async def test_create_with_empty_body_and_empty_object(a: Api) -> None:
    no_body = created(await a.post("/v1/threads"))
    empty = created(await a.post("/v1/threads", json={}))
    for thread in (no_body, empty):
        assert set(thread) == THREAD_FIELDS
        assert thread["id"].startswith("thread_")
        assert thread["metadata"] == {}
        assert thread["visible_in_ui"] is True
        assert thread["state"] == "open"
    assert no_body["id"] != empty["id"]


async def test_create_accepts_every_valid_id_form(a: Api) -> None:
    for tid in ["x", "A-z_0.9:Z", "a" * 128, "support_user123_ticket789", "thread_user123_session1"]:
        assert (await create(a, id=tid))["id"] == tid
        assert ok(await a.thread(tid))["id"] == tid


async def test_create_rejects_invalid_id(a: Api) -> None:
    for tid in ["", "a" * 129, "has space", "slash/id", "é", "semi;colon", "q?x", "tab\tid", "a" * 1000]:
        err(await a.post("/v1/threads", json={"id": tid}), 422, "VALIDATION_ERROR")
    assert (await list_page(a))["data"] == []


async def test_create_existing_live_id_conflicts_and_keeps_original(a: Api) -> None:
    tid = uid("dup")
    original = await create(a, id=tid, metadata={"v": 1})
    err(await a.post("/v1/threads", json={"id": tid, "metadata": {"v": 2}}), 409, "THREAD_ALREADY_EXISTS")
    assert ok(await a.thread(tid)) == original
    assert await listed_ids(a) == [tid]


async def test_create_id_already_used_by_a_turn_conflicts(a: Api) -> None:
    tid = uid("turn")
    ok(await a.say("hi", thread=tid))
    err(await a.post("/v1/threads", json={"id": tid}), 409, "THREAD_ALREADY_EXISTS")
    assert ok(await a.thread(tid))["message_count"] == 2


async def test_same_id_in_two_organizations_is_two_threads(a: Api, b: Api) -> None:
    tid = uid("shared")
    ta = await create(a, id=tid, metadata={"who": "a"})
    tb = await create(b, id=tid, metadata={"who": "b"})
    assert (ta["organization_id"], tb["organization_id"]) == (ORG_A, ORG_B)
    assert ok(await a.thread(tid))["metadata"] == {"who": "a"}
    assert ok(await b.thread(tid))["metadata"] == {"who": "b"}


async def test_create_metadata_exactly_at_limit_accepted_one_byte_over_rejected(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path, max_metadata_bytes=64)) as client:
        a = Api(client, KEY_A)
        at_limit = meta_of_size(64)
        assert (await create(a, id="at_limit", metadata=at_limit))["metadata"] == at_limit
        over = meta_of_size(65)
        err(await a.post("/v1/threads", json={"id": "over", "metadata": over}), 422, "METADATA_TOO_LARGE")
        err(await a.thread("over"), 404, "THREAD_NOT_FOUND")


async def test_create_metadata_limit_counts_compact_json_not_sent_bytes(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path, max_metadata_bytes=64)) as client:
        a = Api(client, KEY_A)
        meta = meta_of_size(64)
        # The same 64-byte metadata sent with lots of whitespace is still 64 bytes as compact JSON.
        raw = '{ "id" : "spaced" ,  "metadata" :  {  "k"  :  "' + meta["k"] + '"  }  }'
        r = await a.post("/v1/threads", content=raw, headers={"Content-Type": "application/json"})
        assert created(r)["metadata"] == meta


async def test_create_with_non_object_metadata_is_validation_error(a: Api) -> None:
    for bad in ("text", [1, 2], 3):
        err(await a.post("/v1/threads", json={"metadata": bad}), 422, "VALIDATION_ERROR")
    assert (await list_page(a))["data"] == []


async def test_create_hidden_thread_with_visible_in_ui_false(a: Api) -> None:
    hidden = await create(a, id=uid("hid"), visible_in_ui=False)
    shown = await create(a, id=uid("vis"))
    assert hidden["visible_in_ui"] is False
    assert await listed_ids(a) == [shown["id"]]
    assert await listed_ids(a, visible_in_ui="false") == [hidden["id"]]
    assert ok(await a.thread(hidden["id"]))["visible_in_ui"] is False


# -- GET /v1/threads ------------------------------------------------------------------------------


async def test_list_empty_organization(a: Api) -> None:
    page = await list_page(a)
    assert page == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


async def test_list_default_limit_is_20(a: Api) -> None:
    for _ in range(23):
        await create(a)
    page = await list_page(a)
    assert len(page["data"]) == 20
    assert page["has_more"] is True
    assert all(set(t) == THREAD_FIELDS for t in page["data"])


async def test_list_limit_out_of_bounds_is_validation_error(a: Api) -> None:
    await create(a)
    for limit in ["0", "101", "-1", "abc", "1.5"]:
        err(await a.get("/v1/threads", params={"limit": limit}), 422, "VALIDATION_ERROR")


async def test_list_limit_bounds_1_and_100_are_accepted(a: Api) -> None:
    for _ in range(3):
        await create(a)
    one = await list_page(a, limit=1)
    assert len(one["data"]) == 1 and one["has_more"] is True
    hundred = await list_page(a, limit=100)
    assert len(hundred["data"]) == 3 and hundred["has_more"] is False


async def test_list_newest_activity_first_and_a_turn_moves_thread_to_top(a: Api) -> None:
    ids = [(await create(a, id=f"order_{i}"))["id"] for i in range(4)]
    assert await listed_ids(a) == ids[::-1]
    ok(await a.say("wake up", thread=ids[0]))
    assert await listed_ids(a) == [ids[0], ids[3], ids[2], ids[1]]
    ok(await a.say("me too", thread=ids[2]))
    assert await listed_ids(a) == [ids[2], ids[0], ids[3], ids[1]]
    # A brand-new thread is newer activity than every older turn.
    newest = (await create(a, id="order_new"))["id"]
    assert (await list_page(a, limit=1))["first_id"] == newest


async def test_list_metadata_change_is_not_activity(a: Api) -> None:
    ids = [(await create(a, id=f"meta_{i}"))["id"] for i in range(3)]
    ok(await patch(a, ids[0], metadata={"touched": True}))
    assert await listed_ids(a) == ids[::-1]


async def test_list_after_cursor_walks_every_thread_once(a: Api) -> None:
    made = [(await create(a))["id"] for _ in range(45)]
    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 7}
        if after is not None:
            params["after"] = after
        page = await list_page(a, **params)
        pages += 1
        seen += [t["id"] for t in page["data"]]
        if not page["has_more"]:
            break
        assert len(page["data"]) == 7
        after = page["last_id"]
        assert pages < 20
    assert pages == 7  # 6 full pages and one of 3
    assert len(seen) == len(set(seen)) == 45
    assert seen == made[::-1]


async def test_list_has_more_false_when_last_page_is_exactly_full(a: Api) -> None:
    for _ in range(6):
        await create(a)
    first = await list_page(a, limit=3)
    assert first["has_more"] is True
    second = await list_page(a, limit=3, after=first["last_id"])
    assert len(second["data"]) == 3
    assert second["has_more"] is False
    assert set(t["id"] for t in first["data"]).isdisjoint(t["id"] for t in second["data"])


async def test_list_unknown_cursor_is_validation_error(a: Api) -> None:
    await create(a)
    err(await a.get("/v1/threads", params={"after": "thread_doesnotexist"}), 422, "VALIDATION_ERROR")


async def test_list_visible_in_ui_false_lists_only_hidden(a: Api) -> None:
    shown = [(await create(a))["id"] for _ in range(3)]
    hidden = [(await create(a, visible_in_ui=False))["id"] for _ in range(2)]
    hidden.append(ok(await a.say("secret", store=False))["thread_id"])
    assert await listed_ids(a) == shown[::-1]
    assert await listed_ids(a, visible_in_ui="true") == shown[::-1]
    assert await listed_ids(a, visible_in_ui="false") == hidden[::-1]
    for t in (await list_page(a, visible_in_ui="false"))["data"]:
        assert t["visible_in_ui"] is False


async def test_list_state_filter(a: Api) -> None:
    opened = (await create(a, id="s_open"))["id"]
    locked = (await create(a, id="s_locked"))["id"]
    archived = (await create(a, id="s_archived"))["id"]
    locked_then_archived = (await create(a, id="s_locked_archived"))["id"]
    await set_state(a, locked, "locked")
    await set_state(a, archived, "archived")
    await set_state(a, locked_then_archived, "locked")
    await set_state(a, locked_then_archived, "archived")
    assert await listed_ids(a, state="open") == [opened]
    assert await listed_ids(a, state="locked") == [locked]
    assert sorted(await listed_ids(a, state="archived")) == sorted([archived, locked_then_archived])
    assert len(await listed_ids(a)) == 4
    err(await a.get("/v1/threads", params={"state": "closed"}), 422, "VALIDATION_ERROR")


async def test_list_state_and_visibility_filters_combine(a: Api) -> None:
    hidden_locked = (await create(a, visible_in_ui=False))["id"]
    await create(a, visible_in_ui=False)
    shown_locked = (await create(a))["id"]
    await set_state(a, hidden_locked, "locked")
    await set_state(a, shown_locked, "locked")
    assert await listed_ids(a, state="locked", visible_in_ui="false") == [hidden_locked]
    assert await listed_ids(a, state="locked") == [shown_locked]


async def test_list_shows_only_own_organization(a: Api, b: Api) -> None:
    mine = (await create(a))["id"]
    theirs = (await create(b))["id"]
    assert await listed_ids(a) == [mine]
    assert await listed_ids(b) == [theirs]


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
    assert page == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


async def test_messages_of_unknown_thread_is_not_found(a: Api) -> None:
    err(await a.get("/v1/threads/nope_nothing/messages"), 404, "THREAD_NOT_FOUND")


# -- PATCH /v1/threads/{id} -----------------------------------------------------------------------


async def test_patch_metadata_merges_key_by_key_and_null_removes(a: Api) -> None:
    tid = (await create(a, metadata={"a": 1, "b": 2, "c": {"deep": True}, "keep": "me"}))["id"]
    thread = ok(await patch(a, tid, metadata={"b": None, "c": {"new": 1}, "d": [1, 2]}))
    expected = {"a": 1, "c": {"new": 1}, "d": [1, 2], "keep": "me"}
    assert thread["metadata"] == expected
    assert ok(await a.thread(tid))["metadata"] == expected
    # Removing a key that is not there is fine; the others stay.
    assert ok(await patch(a, tid, metadata={"zzz": None}))["metadata"] == expected
    assert ok(await patch(a, tid, metadata={"a": None, "d": None}))["metadata"] == {
        "c": {"new": 1},
        "keep": "me",
    }


async def test_patch_without_metadata_leaves_metadata_alone(a: Api) -> None:
    tid = (await create(a, metadata={"x": 1}))["id"]
    assert ok(await patch(a, tid, visible_in_ui=False))["metadata"] == {"x": 1}
    assert ok(await patch(a, tid, state="locked"))["metadata"] == {"x": 1}
    assert ok(await patch(a, tid))["metadata"] == {"x": 1}


async def test_patch_updates_updated_at(a: Api) -> None:
    made = await create(a)
    changed = ok(await patch(a, made["id"], metadata={"x": 1}))
    assert ts(changed["updated_at"]) >= ts(made["updated_at"])
    assert changed["created_at"] == made["created_at"]


@pytest.mark.parametrize(
    ("start", "target"),
    [("open", "locked"), ("locked", "open"), ("open", "archived"), ("locked", "archived")],
)
async def test_patch_allowed_state_transitions(a: Api, start: str, target: str) -> None:
    tid = (await create(a))["id"]
    if start != "open":
        await set_state(a, tid, start)
    thread = ok(await patch(a, tid, state=target))
    assert thread["state"] == target
    assert ok(await a.thread(tid))["state"] == target


@pytest.mark.parametrize("target", ["open", "locked"])
async def test_patch_archived_thread_cannot_change_state(a: Api, target: str) -> None:
    tid = (await create(a))["id"]
    before = await set_state(a, tid, "archived")
    err(await patch(a, tid, state=target), 409, "INVALID_STATE_TRANSITION")
    assert ok(await a.thread(tid)) == before


@pytest.mark.parametrize("state", ["open", "locked", "archived"])
async def test_patch_same_state_is_noop(a: Api, state: str) -> None:
    tid = (await create(a, metadata={"m": 1}))["id"]
    if state != "open":
        await set_state(a, tid, state)
    before = ok(await a.thread(tid))
    again = ok(await patch(a, tid, state=state))
    assert again["state"] == state
    assert again == before
    assert ok(await a.thread(tid)) == before


async def test_patch_archived_thread_metadata_change_is_refused(a: Api) -> None:
    tid = (await create(a, metadata={"m": 1}))["id"]
    before = await set_state(a, tid, "archived")
    err(await patch(a, tid, metadata={"m": 2}), 409, "THREAD_ARCHIVED")
    err(await patch(a, tid, metadata={"m": None}), 409, "THREAD_ARCHIVED")
    err(await patch(a, tid, metadata={"new": "key"}, state="archived"), 409, "THREAD_ARCHIVED")
    assert ok(await a.thread(tid)) == before


async def test_patch_archived_thread_visibility_change_is_refused(a: Api) -> None:
    tid = (await create(a))["id"]
    before = await set_state(a, tid, "archived")
    err(await patch(a, tid, visible_in_ui=False), 409, "THREAD_ARCHIVED")
    assert ok(await a.thread(tid)) == before
    assert await listed_ids(a) == [tid]
    assert await listed_ids(a, visible_in_ui="false") == []


async def test_archived_thread_is_readable_and_deletable(a: Api) -> None:
    tid, _ = await converse(a, 2)
    await set_state(a, tid, "archived")
    assert ok(await a.thread(tid))["message_count"] == 4
    assert len(await a.messages(tid)) == 4
    r = await a.delete(f"/v1/threads/{tid}")
    assert r.status_code == 204, r.text
    err(await a.thread(tid), 404, "THREAD_NOT_FOUND")


async def test_locked_thread_metadata_still_editable(a: Api) -> None:
    tid = (await create(a, metadata={"m": 1}))["id"]
    await set_state(a, tid, "locked")
    thread = ok(await patch(a, tid, metadata={"m": None, "reason": "done"}))
    assert thread["metadata"] == {"reason": "done"}
    assert thread["state"] == "locked"
    assert ok(await a.thread(tid))["metadata"] == {"reason": "done"}
    hidden = ok(await patch(a, tid, visible_in_ui=False))
    assert hidden["visible_in_ui"] is False and hidden["state"] == "locked"


async def test_locked_thread_accepts_no_turn_until_unlocked(a: Api) -> None:
    tid, _ = await converse(a, 1)
    await set_state(a, tid, "locked")
    err(await a.say("more", thread=tid), 409, "THREAD_LOCKED")
    assert ok(await a.thread(tid))["message_count"] == 2
    await set_state(a, tid, "open")
    assert ok(await a.say("more", thread=tid))["output_text"] == "m0\nmore"
    assert ok(await a.thread(tid))["message_count"] == 4


async def test_archived_thread_accepts_no_turn(a: Api) -> None:
    tid, _ = await converse(a, 1)
    await set_state(a, tid, "archived")
    err(await a.say("more", thread=tid), 409, "THREAD_ARCHIVED")
    assert ok(await a.thread(tid))["message_count"] == 2
    assert len(await a.messages(tid)) == 2


async def test_patch_visible_in_ui_moves_thread_between_lists(a: Api) -> None:
    tid = (await create(a))["id"]
    other = (await create(a))["id"]
    assert ok(await patch(a, tid, visible_in_ui=False))["visible_in_ui"] is False
    assert await listed_ids(a) == [other]
    assert await listed_ids(a, visible_in_ui="false") == [tid]
    assert ok(await patch(a, tid, visible_in_ui=True))["visible_in_ui"] is True
    assert sorted(await listed_ids(a)) == sorted([tid, other])
    assert await listed_ids(a, visible_in_ui="false") == []


async def test_patch_metadata_over_limit_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path, max_metadata_bytes=64)) as client:
        a = Api(client, KEY_A)
        tid = (await create(a, metadata={"a": "1"}))["id"]
        before = ok(await a.thread(tid))
        # {"a":"1","k":"..."} must stay <= 64 bytes once merged.
        err(await patch(a, tid, metadata={"k": "x" * 60}, state="locked"), 422, "METADATA_TOO_LARGE")
        assert ok(await a.thread(tid)) == before
        # Exactly at the limit after the merge is fine: {"a":"1","k":"<48>"} is 64 bytes.
        merged = ok(await patch(a, tid, metadata={"k": "x" * 48}))
        assert len(httpx.Response(200, json=merged["metadata"]).content) == 64
        # Removing keys makes room again.
        assert ok(await patch(a, tid, metadata={"k": None, "b": "2"}))["metadata"] == {"a": "1", "b": "2"}


async def test_patch_invalid_body_is_validation_error_and_nothing_changes(a: Api) -> None:
    tid = (await create(a, metadata={"a": 1}))["id"]
    before = ok(await a.thread(tid))
    bad_bodies: list[dict[str, Any]] = [
        {"name": "x"},
        {"metadata": {"a": 2}, "extra": True},
        {"metadata": {"a": 2}, "state": "closed"},
        {"state": "OPEN"},
        {"state": 1},
        {"visible_in_ui": "maybe"},
        {"metadata": "str"},
        {"metadata": [1]},
    ]
    for body in bad_bodies:
        err(await a.patch(f"/v1/threads/{tid}", json=body), 422, "VALIDATION_ERROR")
    assert ok(await a.thread(tid)) == before


async def test_patch_unknown_thread_is_not_found(a: Api) -> None:
    err(await patch(a, "no_such_thread", metadata={"x": 1}), 404, "THREAD_NOT_FOUND")
    err(await a.thread("no_such_thread"), 404, "THREAD_NOT_FOUND")


# -- DELETE /v1/threads/{id} ----------------------------------------------------------------------


async def test_delete_then_not_found_everywhere(a: Api) -> None:
    tid, _ = await converse(a, 2)
    keep, _ = await converse(a, 1)
    r = await a.delete(f"/v1/threads/{tid}")
    assert r.status_code == 204
    assert r.content == b""
    err(await a.thread(tid), 404, "THREAD_NOT_FOUND")
    err(await a.get(f"/v1/threads/{tid}/messages"), 404, "THREAD_NOT_FOUND")
    err(await patch(a, tid, metadata={"x": 1}), 404, "THREAD_NOT_FOUND")
    err(await a.delete(f"/v1/threads/{tid}"), 404, "THREAD_NOT_FOUND")
    assert await listed_ids(a) == [keep]
    assert await listed_ids(a, visible_in_ui="false") == []
    # The other thread is untouched.
    assert len(await a.messages(keep)) == 2


async def test_turn_naming_deleted_thread_is_not_found(a: Api) -> None:
    tid, _ = await converse(a, 1)
    assert (await a.delete(f"/v1/threads/{tid}")).status_code == 204
    err(await a.say("x", thread=tid), 404, "THREAD_NOT_FOUND")
    err(await a.say("x", thread_id=tid), 404, "THREAD_NOT_FOUND")
    err(await a.say("x", thread={"id": tid, "metadata": {"k": 1}}), 404, "THREAD_NOT_FOUND")
    err(await a.thread(tid), 404, "THREAD_NOT_FOUND")


async def test_deleted_id_recreated_explicitly_is_new_empty_usable_thread(a: Api) -> None:
    tid = uid("reborn")
    ok(await a.say("old secret", thread={"id": tid, "metadata": {"old": True}}))
    assert (await a.delete(f"/v1/threads/{tid}")).status_code == 204
    fresh = await create(a, id=tid)
    assert fresh["id"] == tid
    assert fresh["message_count"] == 0
    assert fresh["metadata"] == {}
    assert fresh["usage"] == {"input_tokens": 0, "output_tokens": 0}
    assert fresh["last_message_at"] is None
    assert await a.messages(tid) == []
    answer = ok(await a.say("new start", thread=tid))
    assert answer["output_text"] == "new start"  # the old history is gone
    assert ok(await a.thread(tid))["message_count"] == 2
    assert [m["texts"] for m in await a.messages(tid)] == [[{"text": "new start"}], [{"text": "new start"}]]
    assert await listed_ids(a) == [tid]


async def test_delete_hidden_thread(a: Api) -> None:
    tid = ok(await a.say("x", store=False))["thread_id"]
    assert (await a.delete(f"/v1/threads/{tid}")).status_code == 204
    err(await a.thread(tid), 404, "THREAD_NOT_FOUND")
    assert await listed_ids(a, visible_in_ui="false") == []


async def test_delete_unknown_thread_is_not_found(a: Api) -> None:
    err(await a.delete("/v1/threads/never_there"), 404, "THREAD_NOT_FOUND")


# -- §5 visibility (`store`) ----------------------------------------------------------------------


async def test_store_false_thread_is_hidden_but_fully_usable(a: Api) -> None:
    shown = ok(await a.say("visible"))["thread_id"]
    first = ok(await a.say("hidden one", store=False))
    tid = first["thread_id"]
    assert tid is not None
    assert await listed_ids(a) == [shown]
    assert await listed_ids(a, visible_in_ui="false") == [tid]
    thread = ok(await a.thread(tid))
    assert thread["visible_in_ui"] is False
    assert thread["message_count"] == 2
    second = ok(await a.say("hidden two", thread=tid))
    assert second["output_text"] == "hidden one\nhidden two"
    assert [m["texts"][0]["text"] for m in await a.messages(tid) if m["role"] == "user"] == [
        "hidden one",
        "hidden two",
    ]
    assert ok(await patch(a, tid, metadata={"n": 1}))["metadata"] == {"n": 1}
    # Still hidden after being used.
    assert await listed_ids(a) == [shown]


async def test_store_false_with_new_named_thread_creates_it_hidden(a: Api) -> None:
    tid = uid("named")
    ok(await a.say("x", thread={"id": tid, "metadata": {"k": "v"}}, store=False))
    thread = ok(await a.thread(tid))
    assert thread["visible_in_ui"] is False
    assert thread["metadata"] == {"k": "v"}
    assert await listed_ids(a) == []
    assert await listed_ids(a, visible_in_ui="false") == [tid]


async def test_store_on_existing_thread_changes_nothing(a: Api) -> None:
    shown = ok(await a.say("a"))["thread_id"]
    hidden = ok(await a.say("b", store=False))["thread_id"]
    ok(await a.say("a2", thread=shown, store=False))
    ok(await a.say("b2", thread=hidden, store=True))
    assert ok(await a.thread(shown))["visible_in_ui"] is True
    assert ok(await a.thread(hidden))["visible_in_ui"] is False
    assert await listed_ids(a) == [shown]
    assert await listed_ids(a, visible_in_ui="false") == [hidden]


async def test_patch_visible_in_ui_reveals_store_false_thread(a: Api) -> None:
    tid = ok(await a.say("x", store=False))["thread_id"]
    assert ok(await patch(a, tid, visible_in_ui=True))["visible_in_ui"] is True
    assert await listed_ids(a) == [tid]
    assert await listed_ids(a, visible_in_ui="false") == []


# -- malformed input, §6 limits as seen on threads ------------------------------------------------


async def test_malformed_bodies_are_validation_errors(a: Api) -> None:
    tid = (await create(a, metadata={"a": 1}))["id"]
    before = ok(await a.thread(tid))
    headers = {"Content-Type": "application/json"}
    for raw in [b"not json", b"{", b"[]", b'"text"', b"42", b"\xff\xfe"]:
        err(await a.post("/v1/threads", content=raw, headers=headers), 422, "VALIDATION_ERROR")
        err(await a.patch(f"/v1/threads/{tid}", content=raw, headers=headers), 422, "VALIDATION_ERROR")
    assert ok(await a.thread(tid)) == before
    assert await listed_ids(a) == [tid]


async def test_default_metadata_limit_is_16384_bytes(a: Api) -> None:
    at_limit = meta_of_size(16_384)
    assert (await create(a, id="big", metadata=at_limit))["metadata"] == at_limit
    err(await a.post("/v1/threads", json={"metadata": meta_of_size(16_385)}), 422, "METADATA_TOO_LARGE")
    err(await patch(a, "big", metadata={"more": 1}), 422, "METADATA_TOO_LARGE")
    assert ok(await a.thread("big"))["metadata"] == at_limit


async def test_thread_message_limit_refuses_turn_and_saves_nothing(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path, max_messages_per_thread=4)) as client:
        a = Api(client, KEY_A)
        tid, _ = await converse(a, 2)
        err(await a.say("third", thread=tid), 409, "THREAD_MESSAGE_LIMIT")
        thread = ok(await a.thread(tid))
        assert thread["message_count"] == 4
        assert len(await a.messages(tid)) == 4


class FakeClock:
    def __init__(self) -> None:
        self.us = 1_800_000_000 * 1_000_000

    def __call__(self) -> int:
        return self.us

    def advance(self, days: float) -> None:
        self.us += int(days * 86_400 * 1_000_000)


DAY_S = 86_400


async def test_expires_at_follows_inactivity_for_open_and_age_for_locked(tmp_path: Path) -> None:
    clock = FakeClock()
    async with running(make_settings(tmp_path), clock=clock) as client:
        a = Api(client, KEY_A)
        made = await create(a, id="exp")
        created_at = ts(made["created_at"])
        assert (ts(made["expires_at"]) - created_at).total_seconds() == 90 * DAY_S
        clock.advance(10)
        ok(await a.say("later", thread="exp"))
        turned = ok(await a.thread("exp"))
        assert (ts(turned["last_message_at"]) - created_at).total_seconds() == 10 * DAY_S
        assert (ts(turned["expires_at"]) - created_at).total_seconds() == 100 * DAY_S
        locked = await set_state(a, "exp", "locked")
        assert (ts(locked["expires_at"]) - created_at).total_seconds() == 365 * DAY_S


async def test_idle_open_thread_expires_but_locked_one_is_kept(tmp_path: Path) -> None:
    clock = FakeClock()
    async with running(make_settings(tmp_path), clock=clock) as client:
        a = Api(client, KEY_A)
        await create(a, id="idle")
        await create(a, id="kept")
        await set_state(a, "kept", "locked")
        clock.advance(91)
        err(await a.thread("idle"), 404, "THREAD_NOT_FOUND")
        err(await a.get("/v1/threads/idle/messages"), 404, "THREAD_NOT_FOUND")
        assert await listed_ids(a) == ["kept"]
        assert ok(await a.thread("kept"))["state"] == "locked"
        # An expired id is not reborn by a turn.
        err(await a.say("x", thread="idle"), 404, "THREAD_NOT_FOUND")
