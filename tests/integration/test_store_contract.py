"""The store contract: every operation and rule of the Store protocol, against a real backend.

Parametrized over backends through the `store` fixture, so that each implementation passes the same
tests.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from gateway.core.records import MessageRecord, ResponseRecord, ThreadPatch, ThreadRecord, Usage
from gateway.core.rules import Limits, apply_patch, apply_turn, new_thread
from gateway.errors import ThreadAlreadyExists, ThreadMessageLimit, ThreadNotFound
from gateway.ids import new_id
from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.store import MongoStore
from gateway.store.protocols import Backend, CursorNotFound, TurnWrite
from gateway.store.sqlite.store import SqliteStore
from providers.base import ChatMessage
from tests.services import mongo_uri

S = 1_000_000
T0 = 1_800_000_000 * S
LIMITS = Limits(
    max_messages=10, max_metadata_bytes=1024, idle_us=100 * S, max_age_us=1000 * S, response_ttl_us=50 * S
)
ROOMY = msgspec.structs.replace(LIMITS, max_messages=1000)  # for the tests of long threads


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Backend]:
    s = SqliteStore(str(tmp_path / "db" / "gateway.sqlite3"), LIMITS)
    await s.open()
    yield s
    await s.close()


@pytest.fixture
async def mongo_store() -> AsyncIterator[Backend]:
    # "auto": the versioned scheme alone on mongoeco's server (a standalone server), and inside
    # transactions on a real replica set given by GATEWAY_TEST_MONGODB_URI.
    async with mongo_uri() as uri:
        s = MongoStore(MongoDatabase(uri, LIMITS, database=f"gw_{uuid.uuid4().hex[:8]}"))
        await s.open()
        yield s
        await s.close()


@pytest.fixture(params=["sqlite_store", "mongo_store"])
def store(request: pytest.FixtureRequest) -> Backend:
    """Every backend, one after the other: each must pass every test of this module."""
    backend: Backend = request.getfixturevalue(request.param)
    return backend


def thread(org: str = "o1", tid: str | None = None, at: int = T0, **kw: object) -> ThreadRecord:
    t = new_thread(org, tid or new_id("thread"), metadata=None, visible=True, limits=LIMITS, at_us=at)
    return msgspec.structs.replace(t, **kw) if kw else t


def response(
    org: str, rid: str | None = None, *, thread_id: str | None = None, at: int = T0, text: str = "out"
) -> ResponseRecord:
    return ResponseRecord(
        org=org,
        id=rid or new_id("resp"),
        model="echo",
        created_us=at,
        expires_us=at + LIMITS.response_ttl_us,
        thread_id=thread_id,
        previous_response_id=None,
        output_message_id=new_id("msg"),
        output_text=text,
        usage=Usage(input_tokens=1, output_tokens=1),
        context=(ChatMessage("user", ("in",)),),
    )


async def turn(
    store: Backend,
    org: str,
    tid: str,
    texts: list[tuple[str, str]],
    *,
    at: int = T0,
    create: ThreadRecord | None = None,
    limits: Limits = LIMITS,
) -> ThreadRecord:
    rid = new_id("resp")
    msgs = [
        MessageRecord(id=new_id("msg"), role=role, texts=(text,), response_id=rid, created_us=at)  # type: ignore[arg-type]
        for role, text in texts
    ]
    return await store.threads.append_turn(
        TurnWrite(
            org=org,
            thread_id=tid,
            create=create,
            messages=msgs,
            response=response(org, rid, thread_id=tid, at=at),
            update=lambda t: apply_turn(
                t,
                adding=len(msgs),
                usage=Usage(input_tokens=2, output_tokens=3),
                next_state=None,
                limits=limits,
                at_us=at,
            ),
            at_us=at,
        )
    )


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


async def test_thread_response_is_stored_by_reference_and_read_back_whole(store: Backend) -> None:
    tid = "ref"
    await turn(
        store, "o1", tid, [("system", "s"), ("user", "u1"), ("assistant", "a1")], create=thread(tid=tid)
    )
    await turn(store, "o1", tid, [("user", "u2"), ("assistant", "a2")])
    rid = new_id("resp")
    msgs = [
        MessageRecord(id=new_id("msg"), role=r, texts=(t,), response_id=rid, created_us=T0)  # type: ignore[arg-type]
        for r, t in [("user", "u3a"), ("user", "u3b"), ("assistant", "a3")]
    ]
    # The model saw the system message and the last turn (seqs 1, 4, 5), then the two new inputs.
    ref = response("o1", rid, thread_id=tid)
    ref = msgspec.structs.replace(ref, context=(), context_ref=((1, 1), (4, 5)))
    await store.threads.append_turn(
        TurnWrite(
            org="o1",
            thread_id=tid,
            create=None,
            messages=msgs,
            response=ref,
            update=lambda t: apply_turn(t, adding=3, usage=Usage(), next_state=None, limits=LIMITS, at_us=T0),
            at_us=T0,
        )
    )
    got = await store.responses.get_response("o1", rid, T0)
    assert got is not None and got.context_ref == ((1, 1), (4, 5), (6, 7))
    assert [(m.role, m.texts[0]) for m in got.context] == [
        ("system", "s"),
        ("user", "u2"),
        ("assistant", "a2"),
        ("user", "u3a"),
        ("user", "u3b"),
    ]
    assert await store.responses.get_response("o2", rid, T0) is None


async def test_responses_expire_and_are_scoped(store: Backend) -> None:
    r = response("o1")
    await store.responses.save_response(r)
    assert await store.responses.get_response("o1", r.id, T0) == r
    assert await store.responses.get_response("o2", r.id, T0) is None
    assert await store.responses.get_response("o1", r.id, r.expires_us) is None


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


async def test_ping_answers(store: Backend) -> None:
    await store.ping()
