"""The store contract for thread records: create and read back, id conflicts, organization scoping,
listing with filters and cursor, and atomic updates."""

from __future__ import annotations

import asyncio

import pytest

from gateway.core.records import ThreadPatch
from gateway.core.rules import apply_patch
from gateway.errors import ThreadAlreadyExists, ThreadNotFound
from gateway.store.protocols import Backend, CursorNotFound
from tests.integration.store_contract.helpers import LIMITS, T0, thread, turn


async def test_create_then_get_round_trips_every_field(store: Backend) -> None:
    t = thread(metadata={"a": 1, "nested": {"b": [1, 2]}}, visible=False)
    await store.threads.create_thread(t)
    assert await store.threads.get_thread("o1", t.id, T0) == t


async def test_create_live_id_conflicts_but_other_org_may_reuse_it(store: Backend) -> None:
    t = await store.threads.create_thread(thread(tid="same"))
    with pytest.raises(ThreadAlreadyExists):
        await store.threads.create_thread(thread(tid="same"))
    await store.threads.create_thread(thread(org="o2", tid="same"))
    assert (await store.threads.get_thread("o2", "same", T0)) is not None
    assert await store.threads.get_thread("o1", t.id, T0) == t


async def test_get_is_scoped_by_organization(store: Backend) -> None:
    t = await store.threads.create_thread(thread())
    assert await store.threads.get_thread("o2", t.id, T0) is None
    assert (
        await store.threads.list_messages("o2", t.id, limit=10, after=None, descending=False, at_us=T0)
        is None
    )
    assert await store.threads.delete_thread("o2", t.id, T0) is None
    with pytest.raises(ThreadNotFound):
        await store.threads.update_thread("o2", t.id, lambda x: x, T0)
    assert await store.threads.get_thread("o1", t.id, T0) == t


async def test_list_threads_newest_activity_first_with_filters_and_cursor(store: Backend) -> None:
    ids = []
    for i in range(5):
        t = await store.threads.create_thread(thread(tid=f"t{i}", at=T0 + i))
        ids.append(t.id)
    await store.threads.create_thread(thread(tid="hidden", at=T0 + 10, visible=False))
    await store.threads.update_thread(
        "o1", "t1", lambda t: apply_patch(t, ThreadPatch(state="locked"), LIMITS, T0 + 6), T0 + 6
    )
    await turn(store, "o1", "t0", [("user", "x"), ("assistant", "y")], at=T0 + 20)
    page = await store.threads.list_threads(
        "o1", visible=True, state=None, limit=2, after=None, at_us=T0 + 30
    )
    assert [t.id for t in page.items] == ["t0", "t4"] and page.has_more
    page2 = await store.threads.list_threads(
        "o1", visible=True, state=None, limit=10, after="t4", at_us=T0 + 30
    )
    assert [t.id for t in page2.items] == ["t3", "t2", "t1"] and not page2.has_more
    hidden = await store.threads.list_threads(
        "o1", visible=False, state=None, limit=10, after=None, at_us=T0 + 30
    )
    assert [t.id for t in hidden.items] == ["hidden"]
    locked = await store.threads.list_threads(
        "o1", visible=True, state="locked", limit=10, after=None, at_us=T0 + 30
    )
    assert [t.id for t in locked.items] == ["t1"]
    assert (
        await store.threads.list_threads("o2", visible=True, state=None, limit=10, after=None, at_us=T0)
    ).items == []
    with pytest.raises(CursorNotFound):
        await store.threads.list_threads("o1", visible=True, state=None, limit=2, after="gone", at_us=T0)


async def test_update_applies_function_atomically(store: Backend) -> None:
    t = await store.threads.create_thread(thread())

    async def add(key: str) -> None:
        await store.threads.update_thread(
            "o1", t.id, lambda x: apply_patch(x, ThreadPatch(metadata={key: True}), LIMITS, T0 + 1), T0 + 1
        )

    await asyncio.gather(*(add(f"k{i}") for i in range(10)))
    got = await store.threads.get_thread("o1", t.id, T0 + 1)
    assert got is not None and set(got.metadata) == {f"k{i}" for i in range(10)}
