"""A turn on a MongoDB server without transactions never leaves half a turn or a wrong count, even
when the store fails in the middle of it (issue 10, defect 3).

The store runs over mongoeco's wire server (a standalone server: no transactions) through the real
driver; a fault is injected into one write of the turn (the driver raising as on a timeout or a
broken connection). Before the fix, the in-process undo was best effort: a failed undo left a reply
without its question, or a count with no messages behind it, and such a thread refused later turns.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from gateway.core.records import MessageRecord, Usage
from gateway.core.rules import apply_turn
from gateway.errors import StoreUnavailable
from gateway.ids import new_id
from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.docs import response_doc
from gateway.store.mongo.store import MongoStore
from gateway.store.protocols import IdemClaimed, IdemDone, IdemInFlight, TurnWrite
from tests.integration.store_contract.helpers import LIMITS, T0, response, thread, turn
from tests.services import mongo_uri

GRACE_S = 1.0  # a failed writer's pending turn is settled after this (twice the driver's timeout)


class Faulty:
    """A collection whose `method` fails on its `nth` call; from then on the whole database is down
    (every call of every collection fails, the undo of the old code included) until healed."""

    def __init__(self, db: FaultyDatabase, inner: Any, method: str, nth: int, partial: bool) -> None:
        self._db, self._inner, self._method, self._nth, self._partial = db, inner, method, nth, partial
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        async def maybe_failing(*args: Any, **kwargs: Any) -> Any:
            if self._db.down:
                raise AutoReconnect("the database is down (injected)")
            if name == self._method:
                self.calls += 1
                if self.calls == self._nth:
                    if self._partial:  # the first document made it before the connection broke
                        await self._inner.insert_one(args[0][0], session=kwargs.get("session"))
                    self._db.down = True
                    raise AutoReconnect("connection lost mid-write (injected)")
            return await attr(*args, **kwargs)

        return maybe_failing if name != "find" else attr


class FaultyDatabase(MongoDatabase):
    """The real database, made to fail at one write and stay down until healed."""

    down = False
    fault: tuple[str, str, int, bool] | None = None

    def fail(self, collection: str, method: str, *, nth: int = 1, partial: bool = False) -> None:
        self.fault = (collection, method, nth, partial)
        self._wrappers: dict[str, Faulty] = {}

    def heal(self) -> None:
        self.fault, self.down = None, False

    def _maybe(self, name: str, inner: Any) -> Any:
        if self.fault is None:
            return inner
        collection, method, nth, partial = self.fault
        wrapper = self._wrappers.get(name)
        if wrapper is None:
            wrapper = self._wrappers[name] = Faulty(
                self, inner, method if name == collection else "", nth, partial
            )
        return wrapper

    @property
    def threads(self) -> Any:
        return self._maybe("threads", super().threads)

    @property
    def messages(self) -> Any:
        return self._maybe("messages", super().messages)

    @property
    def responses(self) -> Any:
        return self._maybe("responses", super().responses)

    @property
    def leases(self) -> Any:
        return self._maybe("leases", super().leases)


@pytest.fixture
async def faulty() -> AsyncIterator[tuple[MongoStore, FaultyDatabase]]:
    async with mongo_uri() as uri:
        db = FaultyDatabase(uri, LIMITS, database=f"gw_{uuid.uuid4().hex[:8]}", transactions="off")
        store = MongoStore(db, pending_grace_s=GRACE_S)
        await store.open()
        yield store, db
        await store.close()


async def counted_and_listed(store: MongoStore, tid: str) -> tuple[int, list[str]]:
    t = await store.threads.get_thread("o1", tid, T0)
    page = await store.threads.list_messages("o1", tid, limit=100, after=None, descending=False, at_us=T0)
    assert (t is None) == (page is None)
    return (0 if t is None else t.message_count), ([m.texts[0] for m in page.items] if page else [])


async def raw_messages(db: MongoDatabase, tid: str) -> list[str]:
    docs = await db.messages.find({"org": "o1", "thread_id": tid}).sort("seq", 1).to_list()
    return [d["texts"][0] for d in docs]


@pytest.mark.parametrize(
    ("collection", "method", "partial"),
    [
        ("responses", "insert_one", False),  # every message written, then the response fails
        ("messages", "insert_many", True),  # the question written, the connection lost before the reply
        ("messages", "insert_many", False),  # nothing of the turn written
    ],
    ids=["response-lost", "half-the-messages", "no-message"],
)
async def test_a_turn_that_fails_mid_write_is_invisible_then_rolled_back(
    faulty: tuple[MongoStore, FaultyDatabase], collection: str, method: str, partial: bool
) -> None:
    store, db = faulty
    tid = "t_faults"
    await turn(store, "o1", tid, [("user", "q1"), ("assistant", "a1")], create=thread(tid=tid))
    db.fail(collection, method, partial=partial)
    with pytest.raises(StoreUnavailable):
        await turn(store, "o1", tid, [("user", "q2"), ("assistant", "a2")])
    db.heal()
    # At once: the failed turn is not part of the thread for any reader.
    assert await counted_and_listed(store, tid) == (2, ["q1", "a1"])
    view = await store.threads.turn_view("o1", tid, at_us=T0, system_limit=5, recent_limit=10)
    assert view.thread is not None and view.thread.message_count == 2
    assert [m.texts[0] for m in view.recent] == ["a1", "q1"]
    # The next turn waits for the failed writer's time to pass, settles its turn, and goes ahead.
    after = await turn(store, "o1", tid, [("user", "q3"), ("assistant", "a3")])
    assert after.message_count == 4
    assert await counted_and_listed(store, tid) == (4, ["q1", "a1", "q3", "a3"])
    assert await raw_messages(db, tid) == ["q1", "a1", "q3", "a3"]  # nothing of the failed turn is left


async def test_a_turn_whose_commit_failed_after_every_write_is_rolled_forward(
    faulty: tuple[MongoStore, FaultyDatabase],
) -> None:
    store, db = faulty
    tid = "t_commit"
    await turn(store, "o1", tid, [("user", "q1"), ("assistant", "a1")], create=thread(tid=tid))
    # A turn updates its thread's document twice: the reservation, then the commit.
    db.fail("threads", "update_one", nth=2)
    with pytest.raises(StoreUnavailable):
        await turn(store, "o1", tid, [("user", "q2"), ("assistant", "a2")])
    db.heal()
    assert await counted_and_listed(store, tid) == (2, ["q1", "a1"])  # not committed yet
    await asyncio.sleep(GRACE_S + 0.2)
    await store.purge_expired(T0)  # the repair round settles it: every write was there
    assert await counted_and_listed(store, tid) == (4, ["q1", "a1", "q2", "a2"])


async def test_a_first_turn_that_fails_leaves_no_thread(faulty: tuple[MongoStore, FaultyDatabase]) -> None:
    store, db = faulty
    tid = "t_new"
    db.fail("responses", "insert_one")
    with pytest.raises(StoreUnavailable):
        await turn(store, "o1", tid, [("user", "q1"), ("assistant", "a1")], create=thread(tid=tid))
    db.heal()
    assert await store.threads.get_thread("o1", tid, T0) is None
    listed = await store.threads.list_threads("o1", visible=True, state=None, limit=10, after=None, at_us=T0)
    assert [t.id for t in listed.items] == []
    await asyncio.sleep(GRACE_S + 0.2)
    await store.purge_expired(T0)
    assert await db.threads.find_one({"org": "o1", "id": tid}) is None
    assert await raw_messages(db, tid) == []
    # The id is free: a first turn creates the thread.
    after = await turn(store, "o1", tid, [("user", "again"), ("assistant", "ok")], create=thread(tid=tid))
    assert after.message_count == 2


async def test_a_patch_or_delete_waits_for_a_pending_turn_and_keeps_the_count(
    faulty: tuple[MongoStore, FaultyDatabase],
) -> None:
    store, db = faulty
    tid = "t_patch"
    await turn(store, "o1", tid, [("user", "q1"), ("assistant", "a1")], create=thread(tid=tid))
    db.fail("responses", "insert_one")
    with pytest.raises(StoreUnavailable):
        await turn(store, "o1", tid, [("user", "q2"), ("assistant", "a2")])
    db.heal()
    patched = await store.threads.update_thread("o1", tid, lambda t: t.__copy__(), T0)
    assert patched.message_count == 2
    assert await counted_and_listed(store, tid) == (2, ["q1", "a1"])
    assert await raw_messages(db, tid) == ["q1", "a1"]


async def test_a_rolled_back_turn_takes_its_response_with_it(
    faulty: tuple[MongoStore, FaultyDatabase],
) -> None:
    """The settling goes by what the database holds: a response of the failed turn that did land
    (its write retried on another connection, say) while one of its messages did not is removed
    with the messages, so that no `previousResponseId` names a turn the thread does not have."""
    store, db = faulty
    tid = "t_resp"
    await turn(store, "o1", tid, [("user", "q1"), ("assistant", "a1")], create=thread(tid=tid))
    db.fail("messages", "insert_many", partial=True)
    with pytest.raises(StoreUnavailable):
        await turn(store, "o1", tid, [("user", "q2"), ("assistant", "a2")])
    db.heal()
    doc = await db.threads.find_one({"org": "o1", "id": tid})
    assert doc is not None
    rid = doc["pending"]["rid"]
    await db.responses.insert_one(response_doc(response("o1", rid, thread_id=tid)))
    await asyncio.sleep(GRACE_S + 0.2)  # the failed writer's time passes (the grace is wall-clock)
    await store.purge_expired(T0)  # the repair round settles it: a message is missing, so back
    assert await db.responses.find_one({"org": "o1", "id": rid}) is None
    assert await store.responses.get_response("o1", rid, T0) is None
    assert await counted_and_listed(store, tid) == (2, ["q1", "a1"])
    assert await raw_messages(db, tid) == ["q1", "a1"]


async def test_a_rolled_back_turn_frees_its_idempotency_key(
    faulty: tuple[MongoStore, FaultyDatabase],
) -> None:
    """The key a failed turn held goes with it: a retry with the same key runs again at once,
    neither in flight behind a writer that is gone nor replaying an answer the thread lacks."""
    store, db = faulty
    tid = "t_idem"
    await turn(store, "o1", tid, [("user", "q1"), ("assistant", "a1")], create=thread(tid=tid))
    hold_us = 3600 * 1_000_000
    claim = await store.idempotency.claim("o1", "key-1", "fp", at_us=T0, hold_us=hold_us)
    assert isinstance(claim, IdemClaimed)
    rid = new_id("resp")
    msgs = [
        MessageRecord(id=new_id("msg"), role=role, texts=(text,), response_id=rid, created_us=T0)  # type: ignore[arg-type]
        for role, text in [("user", "q2"), ("assistant", "a2")]
    ]
    answer = response("o1", rid, thread_id=tid)
    db.fail("messages", "insert_many", partial=True)
    with pytest.raises(StoreUnavailable):
        await store.threads.append_turn(
            TurnWrite(
                org="o1",
                thread_id=tid,
                create=None,
                messages=msgs,
                response=answer,
                update=lambda t: apply_turn(
                    t,
                    adding=2,
                    usage=Usage(input_tokens=1, output_tokens=1),
                    next_state=None,
                    limits=LIMITS,
                    at_us=T0,
                ),
                idempotency=IdemDone(claim=claim, response=answer, expires_us=T0 + hold_us),
                at_us=T0,
            )
        )
    db.heal()
    assert isinstance(
        await store.idempotency.claim("o1", "key-1", "fp", at_us=T0, hold_us=hold_us), IdemInFlight
    )
    await asyncio.sleep(GRACE_S + 0.2)  # the failed writer's time passes (the grace is wall-clock)
    await store.purge_expired(T0)
    again = await store.idempotency.claim("o1", "key-1", "fp", at_us=T0, hold_us=hold_us)
    assert isinstance(again, IdemClaimed)  # a fresh claim: the failed one is gone
    assert await raw_messages(db, tid) == ["q1", "a1"]
