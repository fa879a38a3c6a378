"""The store contract, continued (SPEC §10): list order, `before`, pinned filter and totals; titles
and pins; the organization's threads deleted at once; one message edited or deleted, with counts
and sequence numbers right."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from gateway.core.records import ThreadPatch
from gateway.core.rules import apply_patch
from gateway.errors import MessageNotFound, ThreadLocked, ThreadNotFound
from gateway.store.protocols import Backend, CursorNotFound
from tests.integration.store_contract.helpers import LIMITS, ROOMY, T0, thread, turn


def edit_to(text: str) -> object:
    return lambda m: msgspec.structs.replace(m, texts=(text,))


async def ids(store: Backend, **kw: object) -> list[str]:
    args: dict[str, object] = {"visible": True, "state": None, "limit": 10, "after": None, "at_us": T0 + 100}
    page = await store.threads.list_threads("o1", **{**args, **kw})  # type: ignore[arg-type]
    return [t.id for t in page.items]


async def test_lists_run_both_ways_and_page_before_a_cursor(store: Backend) -> None:
    for i in range(5):
        await store.threads.create_thread(thread(tid=f"t{i}", at=T0 + i))
    assert await ids(store) == ["t4", "t3", "t2", "t1", "t0"]
    assert await ids(store, descending=False) == ["t0", "t1", "t2", "t3", "t4"]
    assert await ids(store, limit=2, before="t1") == ["t3", "t2"]  # the page just before t1, in order
    assert await ids(store, limit=2, before="t2", descending=False) == ["t0", "t1"]
    page = await store.threads.list_threads(
        "o1", visible=True, state=None, limit=2, after=None, before="t0", at_us=T0 + 100
    )
    assert [t.id for t in page.items] == ["t2", "t1"] and page.has_more
    with pytest.raises(CursorNotFound):
        await ids(store, before="nope")


async def test_pinned_filter_and_totals(store: Backend) -> None:
    for i in range(4):
        await store.threads.create_thread(thread(tid=f"p{i}", at=T0 + i))
    for tid in ("p1", "p3"):
        await store.threads.update_thread(
            "o1", tid, lambda t: apply_patch(t, ThreadPatch(pinned=True), LIMITS, T0 + 50), T0 + 50
        )
    assert await ids(store, pinned=True) == ["p3", "p1"]
    assert await ids(store, pinned=False) == ["p2", "p0"]
    page = await store.threads.list_threads(
        "o1", visible=True, state=None, limit=1, after=None, pinned=True, with_total=True, at_us=T0 + 100
    )
    assert page.total == 2 and len(page.items) == 1
    got = await store.threads.get_thread("o1", "p3", T0 + 60)
    assert got is not None and got.pinned_us == T0 + 50
    # A pinned thread is no item of the unpinned list.
    with pytest.raises(CursorNotFound):
        await ids(store, pinned=False, after="p3")


async def test_title_and_pin_round_trip(store: Backend) -> None:
    t = await store.threads.create_thread(thread(tid="titled"))
    changed = await store.threads.update_thread(
        "o1",
        t.id,
        lambda x: apply_patch(x, ThreadPatch(title="Trip to Rome", pinned=True), LIMITS, T0 + 1),
        T0 + 1,
    )
    assert (changed.title, changed.pinned_us) == ("Trip to Rome", T0 + 1)
    assert await store.threads.get_thread("o1", t.id, T0 + 2) == changed
    cleared = await store.threads.update_thread(
        "o1", t.id, lambda x: apply_patch(x, ThreadPatch(title="", pinned=False), LIMITS, T0 + 3), T0 + 3
    )
    assert (cleared.title, cleared.pinned_us) == (None, None)


async def test_delete_all_tombstones_every_thread_of_the_organization_only(store: Backend) -> None:
    for i in range(3):
        await turn(store, "o1", f"d{i}", [("user", "u"), ("assistant", "a")], create=thread(tid=f"d{i}"))
    await store.threads.create_thread(thread(org="o2", tid="kept"))
    deleted, responses = await store.threads.delete_all_threads("o1", T0 + 1)
    assert deleted == 3 and len(responses) == 3
    assert await ids(store) == []
    for i in range(3):
        assert await store.threads.is_tombstoned("o1", f"d{i}", T0 + 2)
    assert await store.threads.get_thread("o2", "kept", T0 + 2) is not None


async def test_a_message_is_edited_in_place(store: Backend) -> None:
    await turn(store, "o1", "e", [("user", "before"), ("assistant", "a")], create=thread(tid="e"))
    page = await store.threads.list_messages("o1", "e", limit=10, after=None, descending=False, at_us=T0)
    assert page is not None
    first = page.items[0]

    def patch(m):  # type: ignore[no-untyped-def]
        return msgspec.structs.replace(m, texts=("after",), metadata={"edited": True})

    changed = await store.threads.update_message("o1", "e", first.id, patch, T0 + 5)
    assert changed.texts == ("after",) and changed.metadata == {"edited": True}
    page = await store.threads.list_messages("o1", "e", limit=10, after=None, descending=False, at_us=T0 + 6)
    assert page is not None and [m.texts[0] for m in page.items] == ["after", "a"]
    assert page.items[0].metadata == {"edited": True} and page.items[0].seq == first.seq
    t = await store.threads.get_thread("o1", "e", T0 + 6)
    assert t is not None and t.edited_us == T0 + 5 and t.message_count == 2
    with pytest.raises(MessageNotFound):
        await store.threads.update_message("o1", "e", "msg_unknown", patch, T0 + 7)
    with pytest.raises(ThreadNotFound):
        await store.threads.update_message("o2", "e", first.id, patch, T0 + 7)


async def test_a_deleted_message_lowers_the_count_and_its_number_is_never_used_again(store: Backend) -> None:
    await turn(store, "o1", "x", [("user", "u1"), ("assistant", "a1")], create=thread(tid="x"), limits=ROOMY)
    page = await store.threads.list_messages("o1", "x", limit=10, after=None, descending=False, at_us=T0)
    assert page is not None
    last = page.items[-1]
    await store.threads.delete_message("o1", "x", last.id, T0 + 1)
    t = await store.threads.get_thread("o1", "x", T0 + 2)
    assert t is not None and t.message_count == 1 and t.edited_us == T0 + 1
    await turn(store, "o1", "x", [("user", "u2"), ("assistant", "a2")], at=T0 + 3, limits=ROOMY)
    page = await store.threads.list_messages("o1", "x", limit=10, after=None, descending=False, at_us=T0 + 4)
    assert page is not None
    assert [(m.seq, m.texts[0]) for m in page.items] == [(1, "u1"), (3, "u2"), (4, "a2")]
    t = await store.threads.get_thread("o1", "x", T0 + 4)
    assert t is not None and t.message_count == 3
    with pytest.raises(MessageNotFound):
        await store.threads.delete_message("o1", "x", last.id, T0 + 5)


async def test_messages_of_a_locked_thread_cannot_be_edited_or_deleted(store: Backend) -> None:
    await turn(store, "o1", "l", [("user", "u"), ("assistant", "a")], create=thread(tid="l"))
    await store.threads.update_thread(
        "o1", "l", lambda t: apply_patch(t, ThreadPatch(state="locked"), LIMITS, T0 + 1), T0 + 1
    )
    page = await store.threads.list_messages("o1", "l", limit=10, after=None, descending=False, at_us=T0 + 2)
    assert page is not None
    with pytest.raises(ThreadLocked):
        await store.threads.delete_message("o1", "l", page.items[0].id, T0 + 2)
    with pytest.raises(ThreadLocked):
        await store.threads.update_message("o1", "l", page.items[0].id, edit_to("x"), T0 + 2)  # type: ignore[arg-type]
    t = await store.threads.get_thread("o1", "l", T0 + 3)
    assert t is not None and t.message_count == 2


async def test_concurrent_deletes_and_turns_keep_the_count_right(store: Backend) -> None:
    await store.threads.create_thread(thread(tid="c"))
    for i in range(4):
        await turn(store, "o1", "c", [("user", f"u{i}"), ("assistant", f"a{i}")], limits=ROOMY)
    page = await store.threads.list_messages("o1", "c", limit=10, after=None, descending=False, at_us=T0)
    assert page is not None
    victims = [m.id for m in page.items[:3]]
    await asyncio.gather(
        *(store.threads.delete_message("o1", "c", v, T0 + 1) for v in victims),
        *(
            turn(store, "o1", "c", [("user", f"n{i}"), ("assistant", f"b{i}")], at=T0 + 2, limits=ROOMY)
            for i in range(3)
        ),
    )
    page = await store.threads.list_messages("o1", "c", limit=100, after=None, descending=False, at_us=T0 + 3)
    t = await store.threads.get_thread("o1", "c", T0 + 3)
    assert page is not None and t is not None
    assert t.message_count == len(page.items) == 8 - 3 + 6
    seqs = [m.seq for m in page.items]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
