"""DELETE /v1/threads/{id} (SPEC §4) and §5 visibility (`store`) over HTTP: a deleted thread is gone
everywhere and its id may be recreated explicitly; a `store: false` thread is hidden but usable."""

from __future__ import annotations

from tests.conftest import Api, err, ok, uid
from tests.e2e.threads_helpers import converse, create, listed_ids, patch

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
