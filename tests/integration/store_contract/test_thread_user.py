"""The store contract for a thread's end user (SPEC §12, the memory scope of its turns) and for a
response of no thread that enqueues its memory job with it (the outbox of a chain)."""

from __future__ import annotations

import msgspec
import pytest

from gateway.core.records import ThreadPatch
from gateway.core.rules import apply_patch
from gateway.store.jobs import RetryPolicy, new_job
from gateway.store.protocols import Backend
from tests.integration.store_contract.helpers import LIMITS, T0, response, thread, turn


async def test_a_threads_user_is_kept_from_its_creation_through_lists_updates_and_turns(
    store: Backend,
) -> None:
    made = await store.threads.create_thread(thread(tid="ann_thread", user="ann"))
    assert made.user == "ann"
    assert (await store.threads.get_thread("o1", "ann_thread", T0)) == made
    await store.threads.update_thread(
        "o1", "ann_thread", lambda t: apply_patch(t, ThreadPatch(title="Hello"), LIMITS, T0 + 1), T0 + 1
    )
    after = await turn(store, "o1", "ann_thread", [("user", "hi"), ("assistant", "hey")], at=T0 + 2)
    assert after.user == "ann" and after.message_count == 2
    view = await store.threads.turn_view("o1", "ann_thread", at_us=T0 + 3, system_limit=5, recent_limit=5)
    assert view.thread is not None and view.thread.user == "ann" and view.thread.title == "Hello"
    page = await store.threads.list_threads(
        "o1", visible=True, state=None, limit=10, after=None, at_us=T0 + 3
    )
    assert [(t.id, t.user) for t in page.items] == [("ann_thread", "ann")]


async def test_a_thread_created_by_a_turn_keeps_the_user_of_that_turn(store: Backend) -> None:
    created = await turn(
        store,
        "o1",
        "by_turn",
        [("user", "hi"), ("assistant", "hey")],
        create=thread(tid="by_turn", user="bob"),
    )
    assert created.user == "bob"
    assert (await store.threads.get_thread("o1", "by_turn", T0)).user == "bob"  # type: ignore[union-attr]
    plain = await store.threads.create_thread(thread(tid="nobody"))
    assert plain.user is None and (await store.threads.get_thread("o1", "nobody", T0)).user is None  # type: ignore[union-attr]


async def test_a_deleted_threads_id_made_again_has_the_new_threads_user(store: Backend) -> None:
    await store.threads.create_thread(thread(tid="again", user="ann"))
    assert await store.threads.delete_thread("o1", "again", T0) is not None
    # An explicit create may give a tombstoned id a new, empty thread (SPEC §3): its own user.
    reborn = await store.threads.create_thread(thread(tid="again", user="carl", at=T0 + 1))
    assert (await store.threads.get_thread("o1", "again", T0 + 1)) == reborn
    assert reborn.user == "carl"


async def test_a_response_of_no_thread_enqueues_its_jobs_in_its_own_write(store: Backend) -> None:
    r = msgspec.structs.replace(response("o1"), user="ann", memory_operation_id="op")
    job = new_job("o1", "memory.write", r.id, b"{}", at_us=T0, policy=RetryPolicy(), max_attempts=None)
    await store.responses.save_response(r, None, [job])
    found = await store.jobs.get("o1", job.id)
    assert found is not None and found.status == "PENDING" and found.kind == "memory.write"
    saved = await store.responses.get_response("o1", r.id, T0)
    assert saved is not None and saved.user == "ann" and saved.scope_user == "ann"


async def test_a_refused_response_enqueues_nothing(store: Backend) -> None:
    r = response("o1")
    await store.responses.save_response(r)
    job = new_job("o1", "memory.write", "other", b"{}", at_us=T0, policy=RetryPolicy(), max_attempts=None)
    with pytest.raises(Exception):  # noqa: B017 - each backend's own duplicate-key error
        await store.responses.save_response(r, None, [job])
    assert await store.jobs.get("o1", job.id) is None
