"""The store contract for the end of a thread: deletion and its tombstone, expiry, and the purge of
expired threads, responses and tombstones."""

from __future__ import annotations

import pytest

from gateway.errors import ThreadNotFound
from gateway.store.protocols import Backend
from tests.integration.store_contract.helpers import LIMITS, T0, S, response, thread, turn


async def test_delete_leaves_tombstone_until_age_limit_and_removes_responses(store: Backend) -> None:
    tid = "doomed"
    await turn(store, "o1", tid, [("user", "u"), ("assistant", "a")], create=thread(tid=tid))
    page = await store.threads.list_messages("o1", tid, limit=10, after=None, descending=False, at_us=T0)
    assert page is not None
    rid = page.items[0].response_id
    assert rid is not None and await store.responses.get_response("o1", rid, T0) is not None
    removed = await store.threads.delete_thread("o1", tid, T0 + 1)
    assert removed == (rid,)
    assert await store.threads.get_thread("o1", tid, T0 + 1) is None
    assert await store.responses.get_response("o1", rid, T0 + 1) is None
    assert await store.threads.is_tombstoned("o1", tid, T0 + 1)
    assert not await store.threads.is_tombstoned("o2", tid, T0 + 1)
    with pytest.raises(ThreadNotFound):
        await turn(store, "o1", tid, [("user", "u")], create=thread(tid=tid))
    # The tombstone lasts until the deleted thread's age limit.
    assert not await store.threads.is_tombstoned("o1", tid, T0 + LIMITS.max_age_us)
    # An explicit create may reuse the id at once.
    await store.threads.create_thread(thread(tid=tid, at=T0 + 2))
    assert not await store.threads.is_tombstoned("o1", tid, T0 + 2)


async def test_expired_thread_reads_as_missing_and_is_tombstoned(store: Backend) -> None:
    t = await store.threads.create_thread(thread(tid="idle"))
    late = T0 + LIMITS.idle_us
    assert await store.threads.get_thread("o1", t.id, late - 1) is not None
    assert await store.threads.get_thread("o1", t.id, late) is None
    assert await store.threads.is_tombstoned("o1", t.id, late)
    with pytest.raises(ThreadNotFound):
        await turn(store, "o1", t.id, [("user", "u")], at=late, create=thread(tid="idle", at=late))


async def test_expired_thread_is_hidden_from_lists_and_messages(store: Backend) -> None:
    t = await store.threads.create_thread(thread(tid="old"))
    late = T0 + LIMITS.idle_us + 1
    assert (
        await store.threads.list_threads("o1", visible=True, state=None, limit=5, after=None, at_us=late)
    ).items == []
    assert (
        await store.threads.list_messages("o1", t.id, limit=5, after=None, descending=False, at_us=late)
        is None
    )


async def test_purge_removes_expired_threads_responses_and_tombstones(store: Backend) -> None:
    await turn(store, "o1", "p1", [("user", "u"), ("assistant", "a")], create=thread(tid="p1"))
    await store.threads.create_thread(thread(tid="p2", at=T0 + 500 * S))
    loose = response("o1", at=T0)
    await store.responses.save_response(loose)
    report = await store.purge_expired(T0 + 200 * S)
    assert report.threads == 1
    assert ("o1", loose.id) in report.response_ids and len(report.response_ids) == 2
    assert await store.threads.is_tombstoned("o1", "p1", T0 + 200 * S)
    assert await store.threads.get_thread("o1", "p2", T0 + 200 * S) is not None
    later = await store.purge_expired(T0 + 2000 * S)
    assert later.tombstones >= 1 and later.threads == 1
    assert not await store.threads.is_tombstoned("o1", "p1", T0 + 2000 * S)
