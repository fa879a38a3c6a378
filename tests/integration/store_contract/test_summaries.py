"""Thread summaries as one aggregate of a backend (`backend.summaries`, SPEC §12): one per thread,
kept only for a live thread of the same life, only over an older one, scoped by organization, and
gone with the thread (deleted, deleted with all of its organization's, or expired and purged)."""

from __future__ import annotations

import msgspec

from gateway.core.records import ThreadRecord
from gateway.store.protocols import Backend
from tests.integration.store_contract.helpers import LIMITS, T0, S, summary, thread, turn


async def made(store: Backend, org: str, tid: str) -> ThreadRecord:
    return await turn(store, org, tid, [("user", "a"), ("assistant", "b")], create=thread(org, tid))


async def test_a_summary_is_kept_and_read_back_by_its_organization_only(store: Backend) -> None:
    t = await made(store, "o1", "thread_s1")
    assert await store.summaries.get_summary("o1", t.id) is None
    assert await store.summaries.put_summary(summary(t, 2, "The user likes tea."))
    got = await store.summaries.get_summary("o1", t.id)
    assert got == summary(t, 2, "The user likes tea.")
    assert got is not None and got.holds_for(t)
    assert await store.summaries.get_summary("o2", t.id) is None


async def test_a_summary_only_moves_forward(store: Backend) -> None:
    t = await made(store, "o1", "thread_s2")
    assert await store.summaries.put_summary(summary(t, 10, "ten"))
    # Fewer or as many messages covered on the same basis: refused, the kept one stays.
    assert not await store.summaries.put_summary(summary(t, 4, "four"))
    assert not await store.summaries.put_summary(summary(t, 10, "ten again"))
    assert await store.summaries.put_summary(summary(t, 12, "twelve"))
    # A later basis (the thread was edited) replaces it even covering less; an earlier one never.
    assert await store.summaries.put_summary(summary(t, 3, "rebuilt", basis=5))
    assert not await store.summaries.put_summary(summary(t, 40, "stale", basis=4))
    got = await store.summaries.get_summary("o1", t.id)
    assert got is not None and (got.text, got.covers_seq, got.basis_us) == ("rebuilt", 3, 5)


async def test_no_summary_for_a_missing_thread_or_another_life_of_its_id(store: Backend) -> None:
    t = await made(store, "o1", "thread_s3")
    other_life = msgspec.structs.replace(t, created_us=t.created_us + 1)
    assert not await store.summaries.put_summary(summary(other_life, 2))
    assert not await store.summaries.put_summary(summary(thread("o1", "thread_never"), 2))
    assert not await store.summaries.put_summary(msgspec.structs.replace(summary(t, 2), org="o2"))
    assert await store.summaries.get_summary("o1", t.id) is None
    assert await store.summaries.get_summary("o1", "thread_never") is None


async def test_a_summary_goes_with_its_deleted_thread(store: Backend) -> None:
    t = await made(store, "o1", "thread_s4")
    keep = await made(store, "o1", "thread_s5")
    assert await store.summaries.put_summary(summary(t, 2))
    assert await store.summaries.put_summary(summary(keep, 2))
    assert await store.threads.delete_thread("o1", t.id, T0 + 1) is not None
    assert await store.summaries.get_summary("o1", t.id) is None
    assert not await store.summaries.put_summary(summary(t, 4))  # a late job after the deletion
    assert await store.summaries.get_summary("o1", t.id) is None
    assert await store.summaries.get_summary("o1", keep.id) is not None


async def test_summaries_go_with_all_of_an_organizations_threads(store: Backend) -> None:
    a = await made(store, "o1", "thread_s6")
    b = await made(store, "o2", "thread_s7")
    assert await store.summaries.put_summary(summary(a, 2))
    assert await store.summaries.put_summary(summary(b, 2))
    await store.threads.delete_all_threads("o1", T0 + 1)
    assert await store.summaries.get_summary("o1", a.id) is None
    assert await store.summaries.get_summary("o2", b.id) is not None


async def test_a_summary_goes_with_its_expired_thread(store: Backend) -> None:
    t = await made(store, "o1", "thread_s8")
    assert await store.summaries.put_summary(summary(t, 2))
    await store.purge_expired(T0 + LIMITS.idle_us + 10 * S)
    assert await store.summaries.get_summary("o1", t.id) is None
