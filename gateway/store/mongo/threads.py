"""Threads, messages and turns in MongoDB (see `gateway.store.mongo.store` for the collections).

Turns without a transaction (standalone server): the thread document carries a version `ver`.
A turn reads the thread, applies the rules, then writes it back only if `ver` is unchanged,
reserving the sequence numbers `next_seq+1 .. next_seq+n` in that same single-document update.
Two turns can never reserve the same numbers, the reservation fails when the limit or the state
forbids it, and the messages of one turn get consecutive numbers, so nothing interleaves. On a
replica set the same steps also run inside a transaction, so a crash between the reservation and
the inserts leaves nothing behind; without one, such a crash leaves unused sequence numbers (a gap
the lists skip) that the thread's count compensates when the insert fails in-process.
"""

from __future__ import annotations

import asyncio

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from gateway.core.records import (
    Page,
    State,
    ThreadFilter,
    ThreadRecord,
    by_reference,
    with_turn_inputs,
)
from gateway.errors import StoreUnavailable, ThreadBusy, ThreadNotFound
from gateway.store.codec import thread_fields, thread_of
from gateway.store.lifecycle import (
    Standing,
    check_create,
    in_thread_list,
    is_gone,
    page,
    reads_descending,
    turn_base,
)
from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.docs import (
    Doc,
    Session,
    backoff,
    dt,
    hidden_messages,
    key,
    response_doc,
    standing_of,
    text,
    unavailable,
)
from gateway.store.mongo.edits import MongoEdits
from gateway.store.mongo.idempotency import finish
from gateway.store.mongo.jobs import COLLECTION as JOBS
from gateway.store.mongo.jobs import insert_job
from gateway.store.mongo.locks import MongoLocks
from gateway.store.mongo.messages import MongoMessages
from gateway.store.mongo.pending import PendingTurns, pending_record
from gateway.store.protocols import CursorNotFound, ThreadUpdate, TurnView, TurnWrite

MAX_ATTEMPTS = 200


class MongoThreads:
    """`ThreadStore` over the `threads` and `messages` collections (and a turn's response)."""

    def __init__(self, db: MongoDatabase, locks: MongoLocks, pending: PendingTurns) -> None:
        self._db = db
        self._locks = locks
        self._pending = pending
        edits = MongoEdits(db, self, pending)
        self.delete_all_threads = edits.delete_all_threads
        self.update_message = edits.update_message
        self.delete_message = edits.delete_message
        self._reads = reads = MongoMessages(db)
        self.list_messages = reads.list_messages
        self.recent_messages = reads.recent_messages
        self.system_messages = reads.system_messages

    async def live(self, org: str, thread_id: str, at_us: int, s: Session = None) -> Doc | None:
        """The live thread's document, settled for a write (see `_live`)."""
        return await self._live(org, thread_id, at_us, s)

    async def _find_settled(self, org: str, thread_id: str, s: Session = None) -> Doc | None:
        """The thread's document for a write: once no turn of another writer is pending on it
        (settled when that writer is past its time, else waited for)."""
        for attempt in range(MAX_ATTEMPTS):
            doc = await self._db.find(org, thread_id, s)
            if doc is None or "pending" not in doc:
                return doc
            if not await self._pending.settle(doc, s):
                await backoff(attempt)
        raise StoreUnavailable("The thread store is too busy; try again.")

    async def _live(self, org: str, thread_id: str, at_us: int, s: Session = None) -> Doc | None:
        """The live thread's document, settled for a write; an expired one is tombstoned on the spot."""
        doc = await self._find_settled(org, thread_id, s)
        standing, _ = standing_of(doc, at_us)
        if standing is Standing.EXPIRED and doc is not None:
            await self._db.tombstone(doc, s)
        return doc if standing is Standing.LIVE else None

    @unavailable
    async def create_thread(self, thread: ThreadRecord) -> ThreadRecord:
        for _ in range(MAX_ATTEMPTS):
            doc = await self._find_settled(thread.org, thread.id)
            standing, _ = standing_of(doc, thread.created_us)
            check_create(standing, thread.id)
            if doc is None:
                try:
                    await self._db.threads.insert_one(self._db.new_doc(thread, 0, 1))
                    return thread
                except DuplicateKeyError:
                    continue
            if standing is Standing.EXPIRED:
                await self._db.tombstone(doc)
                continue
            # A deleted or expired id may be used again by an explicit create (SPEC §3, rule 1).
            done = await self._db.threads.replace_one(
                {**key(thread.org, thread.id), "ver": doc["ver"]}, self._db.new_doc(thread, 0, doc["ver"] + 1)
            )
            if done.matched_count:
                return thread
        raise StoreUnavailable("The thread store is too busy; try again.")

    @unavailable
    async def get_thread(self, org: str, thread_id: str, at_us: int) -> ThreadRecord | None:
        doc = await self._db.find(org, thread_id)
        standing, thread = standing_of(doc, at_us)
        if standing is Standing.EXPIRED:
            await self._live(org, thread_id, at_us)  # tombstoned (a write: settled first)
        return thread if standing is Standing.LIVE else None

    @unavailable
    async def turn_view(
        self, org: str, thread_id: str, *, at_us: int, system_limit: int, recent_limit: int
    ) -> TurnView:
        doc = await self._db.find(org, thread_id)
        standing, thread = standing_of(doc, at_us)
        if standing is Standing.EXPIRED:
            await self._live(org, thread_id, at_us)  # tombstoned (a write: settled first)
        if standing is not Standing.LIVE:
            return TurnView(thread=None, tombstoned=is_gone(standing))
        hidden = hidden_messages(doc)
        system, recent = await asyncio.gather(
            self._reads.history(org, thread_id, hidden, system=True, limit=system_limit),
            self._reads.history(org, thread_id, hidden, system=False, limit=recent_limit),
        )
        return TurnView(thread=thread, system=system, recent=recent)

    @unavailable
    async def is_tombstoned(self, org: str, thread_id: str, at_us: int) -> bool:
        standing, _ = standing_of(await self._db.find(org, thread_id), at_us)
        return is_gone(standing)

    @unavailable
    async def list_threads(
        self,
        org: str,
        *,
        visible: bool,
        state: State | None,
        limit: int,
        after: str | None,
        at_us: int,
        pinned: bool | None = None,
        descending: bool = True,
        before: str | None = None,
        with_total: bool = False,
        assistant_id: str | None = None,
    ) -> Page[ThreadRecord]:
        f = ThreadFilter(
            visible=visible, state=state, pinned=pinned, descending=descending, assistant_id=assistant_id
        )
        query: Doc = {
            "org": text(org),
            "tomb": False,
            "visible": bool(visible),
            "expires_us": {"$gt": at_us},
            # Not a thread that a turn still pending would create.
            "$nor": [{"pending": {"$exists": True}, "pending.before": None}],
        }
        if state is not None:
            query["state"] = text(state)
        if pinned is not None:
            query["pinned_us"] = {"$ne": None} if pinned else None
        if assistant_id is not None:
            query["assistant_id"] = text(assistant_id)
        total = await self._db.threads.count_documents(query) if with_total else None
        down = reads_descending(f, before)
        for name in (after, before):
            if name is None:
                continue
            _, cursor = standing_of(await self._db.find(org, name), at_us)
            if cursor is None or not in_thread_list(cursor, f, at_us):
                raise CursorNotFound(name)
            beyond = "$lt" if down else "$gt"
            query["$or"] = [
                {"activity_us": {beyond: cursor.activity_us}},
                {"activity_us": cursor.activity_us, "id": {beyond: text(name)}},
            ]
        order = DESCENDING if down else ASCENDING
        docs = (
            await self._db.threads.find(query)
            .sort([("activity_us", order), ("id", order)])
            .limit(limit + 1)
            .to_list()
        )
        return page([thread_of(d) for d in docs], limit, backwards=before is not None, total=total)

    @unavailable
    async def update_thread(self, org: str, thread_id: str, update: ThreadUpdate, at_us: int) -> ThreadRecord:
        for attempt in range(MAX_ATTEMPTS):
            doc = await self._live(org, thread_id, at_us)
            if doc is None:
                raise ThreadNotFound(thread_id)
            thread = thread_of(doc)
            changed = update(thread)
            if changed is thread:
                return thread
            done = await self._db.threads.update_one(
                {**key(org, thread_id), "ver": doc["ver"]},
                {"$set": thread_fields(changed), "$inc": {"ver": 1}},
            )
            if done.matched_count:
                return changed
            await backoff(attempt)
        raise StoreUnavailable("The thread store is too busy; try again.")

    @unavailable
    async def delete_thread(self, org: str, thread_id: str, at_us: int) -> tuple[str, ...] | None:
        for attempt in range(MAX_ATTEMPTS):
            doc = await self._live(org, thread_id, at_us)
            if doc is None:
                return None

            async def remove(s: Session, doc: Doc = doc) -> tuple[bool, list[str]]:
                before = await self._db.find(org, thread_id, s)
                if before is None or before.get("ver") != doc["ver"]:
                    return False, []
                return True, await self._db.tombstone(doc, s)

            outcome = await self._db.atomic(remove)
            if outcome is not None and outcome[0]:
                return tuple(outcome[1])
            await backoff(attempt)
        raise StoreUnavailable("The thread store is too busy; try again.")

    # -- messages -------------------------------------------------------------------------------

    @unavailable
    @unavailable
    async def append_turn(self, turn: TurnWrite) -> ThreadRecord:
        for attempt in range(MAX_ATTEMPTS):

            async def attempt_turn(s: Session) -> ThreadRecord | None:
                # Fencing: a turn whose lease ran out and was taken over must not write after the
                # newer holder read the history.
                if turn.lease is not None and not await self._locks.holds(turn.lease, s):
                    raise ThreadBusy(turn.thread_id)
                reserved = await self._reserve(turn, s)
                if reserved is None:
                    return None
                after, first = reserved
                # A failure from here on leaves the turn pending: settled later from what the
                # database holds (see `pending`), never undone by a guess in this process.
                await self._insert_turn(turn, first, after, s)
                if s is None:
                    await self._pending.commit(turn.org, turn.thread_id, turn.response.id)
                return after

            result = await self._db.atomic(attempt_turn)
            if result is not None:
                return result
            await backoff(attempt)
        raise StoreUnavailable("The thread store is too busy; try again.")

    async def _reserve(self, turn: TurnWrite, s: Session) -> tuple[ThreadRecord, int] | None:
        """Check the rules and reserve the turn's sequence numbers; None when another writer came
        first (or its turn is still pending): the caller tries again."""
        org, thread_id, n = turn.org, turn.thread_id, len(turn.messages)
        doc = await self._db.find(org, thread_id, s)
        if doc is not None and "pending" in doc:
            await self._pending.settle(doc, s)
            return None
        standing, found = standing_of(doc, turn.at_us)
        if standing is Standing.EXPIRED and doc is not None:
            await self._db.tombstone(doc, s)
        base, creating = turn_base(standing, found, turn.create, thread_id)
        after = turn.update(base)
        # Without a transaction the turn is pending until all its writes succeeded.
        before = (
            None if creating else {f: v for f, v in thread_fields(base).items() if f not in ("org", "id")}
        )
        claim = turn.idempotency.claim if turn.idempotency is not None else None
        pending = {} if s is not None else {"pending": pending_record(turn.response.id, n, before, claim)}
        if not creating:
            assert doc is not None
            done = await self._db.threads.update_one(
                {**key(org, thread_id), "ver": doc["ver"]},
                {"$set": {**thread_fields(after), **pending}, "$inc": {"ver": 1, "next_seq": n}},
                session=s,
            )
            return (after, doc["next_seq"] + 1) if done.matched_count else None
        fresh = {**self._db.new_doc(after, n, 1 if doc is None else doc["ver"] + 1), **pending}
        if doc is None:
            try:
                await self._db.threads.insert_one(fresh, session=s)
            except DuplicateKeyError:
                return None
            return after, 1
        # A stale tombstone: the id is free again.
        done = await self._db.threads.replace_one(
            {**key(org, thread_id), "ver": doc["ver"]}, fresh, session=s
        )
        return (after, 1) if done.matched_count else None

    async def _insert_turn(self, turn: TurnWrite, first: int, thread: ThreadRecord, s: Session) -> None:
        gone = dt(thread.created_us + self._db.limits.max_age_us)
        await self._db.messages.insert_many(
            [
                {
                    "org": turn.org,
                    "thread_id": turn.thread_id,
                    "seq": first + i,
                    "id": m.id,
                    "role": m.role,
                    "texts": list(m.texts),
                    "response_id": m.response_id,
                    "created_us": m.created_us,
                    "gone_at": gone,
                }
                for i, m in enumerate(turn.messages)
            ],
            ordered=True,
            session=s,
        )
        saved = with_turn_inputs(by_reference(turn.response), first, len(turn.messages) - 1)
        await self._db.responses.insert_one(response_doc(saved), session=s)
        if turn.idempotency is not None:
            # Before the commit: a turn rolled back later takes its key's answer with it.
            await finish(self._db, turn.idempotency, s)
        for job in turn.jobs:
            await insert_job(self._db.threads.database[JOBS], job, s)
