"""The store contract for turns and messages: appending a turn (creating the thread, refused by a rule,
concurrently), message pages in both orders, and the tail a turn reads."""

from __future__ import annotations

import asyncio

import pytest

from gateway.core.records import ThreadRecord
from gateway.errors import ThreadMessageLimit, ThreadNotFound
from gateway.store.protocols import Backend, CursorNotFound
from tests.integration.store_contract.helpers import ROOMY, T0, thread, turn


async def test_append_turn_creates_thread_and_orders_messages(store: Backend) -> None:
    tid = "fresh"
    after = await turn(store, "o1", tid, [("user", "u1"), ("assistant", "a1")], create=thread(tid=tid))
    assert after.message_count == 2 and (after.input_tokens, after.output_tokens) == (2, 3)
    await turn(store, "o1", tid, [("user", "u2"), ("assistant", "a2")], at=T0 + 1)
    page = await store.threads.list_messages("o1", tid, limit=10, after=None, descending=False, at_us=T0 + 2)
    assert page is not None
    assert [m.texts[0] for m in page.items] == ["u1", "a1", "u2", "a2"]
    assert [m.seq for m in page.items] == [1, 2, 3, 4]
    stored = await store.threads.get_thread("o1", tid, T0 + 2)
    assert stored is not None and stored.message_count == 4 and stored.last_message_us == T0 + 1
    assert (stored.input_tokens, stored.output_tokens) == (4, 6)


async def test_append_turn_without_create_on_missing_thread_is_not_found(store: Backend) -> None:
    with pytest.raises(ThreadNotFound):
        await turn(store, "o1", "nope", [("user", "x")])
    assert await store.threads.get_thread("o1", "nope", T0) is None


async def test_rule_refusal_in_append_saves_nothing(store: Backend) -> None:
    tid = "limited"
    await turn(store, "o1", tid, [("user", "u")] * 9 + [("assistant", "a")], create=thread(tid=tid))
    with pytest.raises(ThreadMessageLimit):
        await turn(store, "o1", tid, [("user", "u"), ("assistant", "a")])
    t = await store.threads.get_thread("o1", tid, T0)
    assert t is not None and t.message_count == 10
    # A refused turn on a thread to be created leaves no thread behind.
    with pytest.raises(ThreadMessageLimit):
        await turn(store, "o1", "big", [("user", "u")] * 11, create=thread(tid="big"))
    assert await store.threads.get_thread("o1", "big", T0) is None


async def test_concurrent_appends_never_interleave_or_pass_the_limit(store: Backend) -> None:
    tid = "busy"
    await store.threads.create_thread(thread(tid=tid))
    results = await asyncio.gather(
        *(turn(store, "o1", tid, [("user", f"u{i}"), ("assistant", f"a{i}")]) for i in range(8)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, ThreadRecord) for r in results) == 5
    assert all(isinstance(r, ThreadRecord | ThreadMessageLimit) for r in results)
    page = await store.threads.list_messages("o1", tid, limit=100, after=None, descending=False, at_us=T0)
    assert page is not None and len(page.items) == 10
    for user_msg, answer in zip(page.items[::2], page.items[1::2], strict=True):
        assert user_msg.texts[0][1:] == answer.texts[0][1:] and user_msg.response_id == answer.response_id


async def test_message_pages_walk_once_in_both_orders(store: Backend) -> None:
    tid = "paged"
    await store.threads.create_thread(thread(tid=tid))
    for i in range(4):
        await turn(store, "o1", tid, [("user", f"u{i}"), ("assistant", f"a{i}")])
    for descending in (False, True):
        seen, after = [], None
        while True:
            page = await store.threads.list_messages(
                "o1", tid, limit=3, after=after, descending=descending, at_us=T0
            )
            assert page is not None
            seen += [m.seq for m in page.items]
            if not page.has_more:
                break
            after = page.items[-1].id
        assert seen == (sorted(seen, reverse=True) if descending else sorted(seen))
        assert sorted(seen) == list(range(1, 9))
    with pytest.raises(CursorNotFound):
        await store.threads.list_messages("o1", tid, limit=3, after="msg_unknown", descending=False, at_us=T0)


async def test_recent_and_system_messages_read_the_tail(store: Backend) -> None:
    tid = "tail"
    await store.threads.create_thread(thread(tid=tid))
    await turn(store, "o1", tid, [("system", "s1"), ("user", "u1"), ("assistant", "a1")])
    await turn(store, "o1", tid, [("user", "u2"), ("assistant", "a2")])
    recent = await store.threads.recent_messages("o1", tid, before_seq=None, limit=3)
    assert [m.texts[0] for m in recent] == ["a2", "u2", "a1"]
    older = await store.threads.recent_messages("o1", tid, before_seq=recent[-1].seq, limit=3)
    assert [m.texts[0] for m in older] == ["u1"]
    assert [m.texts[0] for m in await store.threads.system_messages("o1", tid, limit=5)] == ["s1"]


async def test_turn_view_reads_the_thread_the_newest_messages_and_the_system_ones(store: Backend) -> None:
    tid = "view"
    await store.threads.create_thread(thread(tid=tid))
    many = [("system", "rules")] + [("user" if i % 2 else "assistant", f"m{i}") for i in range(1, 100)]
    for _ in range(3):
        await turn(store, "o1", tid, many, limits=ROOMY)
    view = await store.threads.turn_view("o1", tid, at_us=T0, system_limit=8, recent_limit=16)
    assert view.thread is not None and view.thread.message_count == 300
    assert [m.texts[0] for m in view.recent] == [f"m{i}" for i in range(99, 83, -1)]
    assert [m.seq for m in view.recent] == list(range(300, 284, -1))
    assert [m.seq for m in view.system] == [201, 101, 1]
    wide = await store.threads.turn_view("o1", tid, at_us=T0, system_limit=2, recent_limit=500)
    assert len(wide.recent) == 297 and [m.seq for m in wide.system] == [201, 101]
    missing = await store.threads.turn_view("o1", "nope", at_us=T0, system_limit=2, recent_limit=5)
    assert missing.thread is None and not missing.tombstoned


async def test_a_turn_of_many_messages_is_stored_whole_and_in_order(store: Backend) -> None:
    tid = "many-inputs"
    await store.threads.create_thread(thread(tid=tid))
    texts = [("user", f"u{i}") for i in range(299)] + [("assistant", "answer")]  # two SQLite statements
    after = await turn(store, "o1", tid, texts, limits=ROOMY)
    assert after.message_count == 300
    page = await store.threads.list_messages("o1", tid, limit=1000, after=None, descending=False, at_us=T0)
    assert page is not None
    assert [(m.seq, m.texts[0]) for m in page.items] == [(i + 1, t) for i, (_, t) in enumerate(texts)]
