"""POST /v1/threads over HTTP (SPEC §4): the thread object, ids, conflicts, organizations, metadata
limits and hidden threads."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import KEY_A, ORG_A, ORG_B, Api, err, make_settings, ok, running, uid
from tests.e2e.threads_helpers import THREAD_FIELDS, create, created, list_page, listed_ids, meta_of_size, ts

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
