"""The production store: MongoDB through pymongo's native async client.

Collections
- `threads`: one document per (organization, id). A deleted or expired thread becomes a tombstone
  document (`tomb: true`, no content) under the same key, so the unique index alone stops an id
  from being reborn. `gone_at` (TTL index) is the thread's age limit: the database itself drops
  old threads and old tombstones even if the gateway's purge never runs.
- `messages`: unique (organization, thread, seq) and (organization, id); `gone_at` TTL as the thread.
- `responses`: unique (organization, id); TTL on `expires_at` (24 hours by default).
The same expiry rules are checked on every read, since TTL deletion runs only once a minute.

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
from collections.abc import Sequence
from datetime import datetime

import msgspec
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError, PyMongoError

from gateway.errors import StoreUnavailable, ThreadAlreadyExists, ThreadNotFound
from gateway.records import (
    HistoryMessage,
    MessageRecord,
    Page,
    ResponseRecord,
    State,
    ThreadRecord,
    with_turn_inputs,
)
from gateway.store.base import CursorNotFound, PurgeReport, ThreadUpdate, TurnView
from gateway.store.mongo_base import MongoCollections
from gateway.store.mongo_docs import (
    Doc,
    Session,
    _backoff,
    _dt,
    _fields,
    _key,
    _message,
    _record,
    _resp_decode,
    _s,
    _unavailable,
)
from gateway.threads import is_expired
from providers.base import ChatMessage

_MAX_ATTEMPTS = 200
# What a turn's history reads of each message.
_HISTORY_FIELDS = {"_id": 0, "seq": 1, "role": 1, "texts": 1}
_PURGE_BATCH = 500


class MongoStore(MongoCollections):
    backend = "mongodb"

    @_unavailable
    async def create_thread(self, thread: ThreadRecord) -> ThreadRecord:
        for _ in range(_MAX_ATTEMPTS):
            doc = await self._find(thread.org, thread.id)
            if doc is None:
                try:
                    await self._threads.insert_one(self._new_doc(thread, 0, 1))
                    return thread
                except DuplicateKeyError:
                    continue
            if not doc.get("tomb") and not is_expired(_record(doc), thread.created_us):
                raise ThreadAlreadyExists(f"Thread '{thread.id}' already exists.")
            if not doc.get("tomb"):
                await self._tombstone(doc)
                continue
            # An explicit create may reuse a deleted or expired id (SPEC §3, rule 1).
            done = await self._threads.replace_one(
                {**_key(thread.org, thread.id), "ver": doc["ver"]}, self._new_doc(thread, 0, doc["ver"] + 1)
            )
            if done.matched_count:
                return thread
        raise StoreUnavailable("The thread store is too busy; try again.")

    @_unavailable
    async def get_thread(self, org: str, thread_id: str, at_us: int) -> ThreadRecord | None:
        doc = await self._live(org, thread_id, at_us)
        return None if doc is None else _record(doc)

    @_unavailable
    async def turn_view(
        self, org: str, thread_id: str, *, at_us: int, system_limit: int, recent_limit: int
    ) -> TurnView:
        doc = await self._live(org, thread_id, at_us)
        if doc is None:
            return TurnView(thread=None, tombstoned=await self.is_tombstoned(org, thread_id, at_us))
        system, recent = await asyncio.gather(
            self.system_messages(org, thread_id, limit=system_limit),
            self.recent_messages(org, thread_id, before_seq=None, limit=recent_limit),
        )
        return TurnView(thread=_record(doc), system=system, recent=recent)

    @_unavailable
    async def is_tombstoned(self, org: str, thread_id: str, at_us: int) -> bool:
        doc = await self._find(org, thread_id)
        if doc is None:
            return False
        if doc.get("tomb"):
            gone: datetime = doc["gone_at"]
            return gone > _dt(at_us)
        return is_expired(_record(doc), at_us)

    @_unavailable
    async def list_threads(
        self, org: str, *, visible: bool, state: State | None, limit: int, after: str | None, at_us: int
    ) -> Page:
        query: Doc = {"org": _s(org), "tomb": False, "visible": bool(visible), "expires_us": {"$gt": at_us}}
        if state is not None:
            query["state"] = _s(state)
        if after is not None:
            cursor = await self._find(org, after)
            if cursor is None or cursor.get("tomb"):
                raise CursorNotFound(after)
            activity = cursor["activity_us"]
            query["$or"] = [
                {"activity_us": {"$lt": activity}},
                {"activity_us": activity, "id": {"$lt": _s(after)}},
            ]
        docs = (
            await self._threads.find(query)
            .sort([("activity_us", DESCENDING), ("id", DESCENDING)])
            .limit(limit + 1)
            .to_list()
        )
        return Page(items=[_record(d) for d in docs[:limit]], has_more=len(docs) > limit)

    @_unavailable
    async def update_thread(self, org: str, thread_id: str, update: ThreadUpdate, at_us: int) -> ThreadRecord:
        for attempt in range(_MAX_ATTEMPTS):
            doc = await self._live(org, thread_id, at_us)
            if doc is None:
                raise ThreadNotFound(thread_id)
            thread = _record(doc)
            changed = update(thread)
            if changed is thread:
                return thread
            done = await self._threads.update_one(
                {**_key(org, thread_id), "ver": doc["ver"]}, {"$set": _fields(changed), "$inc": {"ver": 1}}
            )
            if done.matched_count:
                return changed
            await _backoff(attempt)
        raise StoreUnavailable("The thread store is too busy; try again.")

    @_unavailable
    async def delete_thread(self, org: str, thread_id: str, at_us: int) -> tuple[str, ...] | None:
        for attempt in range(_MAX_ATTEMPTS):
            doc = await self._live(org, thread_id, at_us)
            if doc is None:
                return None

            async def remove(s: Session, doc: Doc = doc) -> tuple[bool, list[str]]:
                before = await self._find(org, thread_id, s)
                if before is None or before.get("ver") != doc["ver"]:
                    return False, []
                return True, await self._tombstone(doc, s)

            outcome = await self._atomic(remove)
            if outcome is not None and outcome[0]:
                return tuple(outcome[1])
            await _backoff(attempt)
        raise StoreUnavailable("The thread store is too busy; try again.")

    # -- messages -------------------------------------------------------------------------------

    @_unavailable
    async def list_messages(
        self, org: str, thread_id: str, *, limit: int, after: str | None, descending: bool, at_us: int
    ) -> Page | None:
        doc = await self._find(org, thread_id)
        if doc is None or doc.get("tomb") or doc["expires_us"] <= at_us:
            return None
        query: Doc = {"org": _s(org), "thread_id": _s(thread_id)}
        if after is not None:
            cursor = await self._messages.find_one(
                {"org": _s(org), "id": _s(after), "thread_id": _s(thread_id)}
            )
            if cursor is None:
                raise CursorNotFound(after)
            query["seq"] = {"$lt" if descending else "$gt": cursor["seq"]}
        docs = (
            await self._messages.find(query)
            .sort("seq", DESCENDING if descending else ASCENDING)
            .limit(limit + 1)
            .to_list()
        )
        return Page(items=[_message(d) for d in docs[:limit]], has_more=len(docs) > limit)

    async def _tail(self, query: Doc, limit: int) -> list[HistoryMessage]:
        docs = (
            await self._messages.find(query, _HISTORY_FIELDS).sort("seq", DESCENDING).limit(limit).to_list()
        )
        return [HistoryMessage(d["seq"], ChatMessage(d["role"], tuple(d["texts"]))) for d in docs]

    @_unavailable
    async def recent_messages(
        self, org: str, thread_id: str, *, before_seq: int | None, limit: int
    ) -> list[HistoryMessage]:
        query: Doc = {"org": _s(org), "thread_id": _s(thread_id), "role": {"$ne": "system"}}
        if before_seq is not None:
            query["seq"] = {"$lt": int(before_seq)}
        return await self._tail(query, limit)

    @_unavailable
    async def system_messages(self, org: str, thread_id: str, *, limit: int) -> list[HistoryMessage]:
        return await self._tail({"org": _s(org), "thread_id": _s(thread_id), "role": "system"}, limit)

    @_unavailable
    async def append_turn(
        self,
        org: str,
        thread_id: str,
        *,
        create: ThreadRecord | None,
        messages: Sequence[MessageRecord],
        response: ResponseRecord,
        update: ThreadUpdate,
        at_us: int,
    ) -> ThreadRecord:
        n = len(messages)
        for attempt in range(_MAX_ATTEMPTS):

            async def attempt_turn(s: Session) -> ThreadRecord | None:
                reserved = await self._reserve(org, thread_id, create, update, n, at_us, s)
                if reserved is None:
                    return None
                after, first = reserved
                try:
                    await self._insert_turn(org, thread_id, first, messages, after, response, s)
                except PyMongoError:
                    if s is None:
                        await self._compensate(org, thread_id, after, n, response)
                    raise
                return after

            result = await self._atomic(attempt_turn)
            if result is not None:
                return result
            await _backoff(attempt)
        raise StoreUnavailable("The thread store is too busy; try again.")

    async def _reserve(
        self,
        org: str,
        thread_id: str,
        create: ThreadRecord | None,
        update: ThreadUpdate,
        n: int,
        at_us: int,
        s: Session,
    ) -> tuple[ThreadRecord, int] | None:
        """Check the rules and reserve `n` sequence numbers; None when another writer came first."""
        doc = await self._find(org, thread_id, s)
        if doc is not None and not doc.get("tomb") and is_expired(_record(doc), at_us):
            await self._tombstone(doc, s)
            raise ThreadNotFound(thread_id)
        if doc is None or doc.get("tomb"):
            stale_tomb = doc is not None and doc["gone_at"] <= _dt(at_us)
            if create is None or (doc is not None and not stale_tomb):
                raise ThreadNotFound(thread_id)
            after = update(create)
            if doc is None:
                try:
                    await self._threads.insert_one(self._new_doc(after, n, 1), session=s)
                except DuplicateKeyError:
                    return None
            else:
                done = await self._threads.replace_one(
                    {**_key(org, thread_id), "ver": doc["ver"]},
                    self._new_doc(after, n, doc["ver"] + 1),
                    session=s,
                )
                if not done.matched_count:
                    return None
            return after, 1
        after = update(_record(doc))
        done = await self._threads.update_one(
            {**_key(org, thread_id), "ver": doc["ver"]},
            {"$set": _fields(after), "$inc": {"ver": 1, "next_seq": n}},
            session=s,
        )
        if not done.matched_count:
            return None
        return after, doc["next_seq"] + 1

    async def _insert_turn(
        self,
        org: str,
        thread_id: str,
        first: int,
        messages: Sequence[MessageRecord],
        thread: ThreadRecord,
        response: ResponseRecord,
        s: Session,
    ) -> None:
        gone = _dt(thread.created_us + self._limits.max_age_us)
        await self._messages.insert_many(
            [
                {
                    "org": org,
                    "thread_id": thread_id,
                    "seq": first + i,
                    "id": m.id,
                    "role": m.role,
                    "texts": list(m.texts),
                    "response_id": m.response_id,
                    "created_us": m.created_us,
                    "gone_at": gone,
                }
                for i, m in enumerate(messages)
            ],
            ordered=True,
            session=s,
        )
        saved = with_turn_inputs(response, first, len(messages) - 1)
        await self._responses.insert_one(self._response_doc(saved), session=s)

    async def _compensate(
        self, org: str, thread_id: str, after: ThreadRecord, n: int, response: ResponseRecord
    ) -> None:
        """Without a transaction: undo a reservation whose inserts failed (best effort)."""
        try:
            await self._messages.delete_many({"org": org, "thread_id": thread_id, "response_id": response.id})
            await self._threads.update_one(
                {**_key(org, thread_id), "tomb": False},
                {
                    "$inc": {
                        "message_count": -n,
                        "input_tokens": -response.usage.input_tokens,
                        "output_tokens": -response.usage.output_tokens,
                        "ver": 1,
                    }
                },
            )
        except PyMongoError:
            pass  # the store is failing; the turn is reported failed either way

    # -- responses ------------------------------------------------------------------------------

    @_unavailable
    async def save_response(self, response: ResponseRecord) -> None:
        await self._responses.insert_one(self._response_doc(response))

    @_unavailable
    async def get_response(self, org: str, response_id: str, at_us: int) -> ResponseRecord | None:
        doc = await self._responses.find_one(
            {"org": _s(org), "id": _s(response_id), "expires_us": {"$gt": at_us}}
        )
        if doc is None:
            return None
        found = _resp_decode(doc["body"])
        if found.context_ref is None or found.thread_id is None:
            return found
        # One indexed read of the thread's messages the response saw.
        ranges = [{"seq": {"$gte": a, "$lte": b}} for a, b in found.context_ref]
        docs = (
            await self._messages.find(
                {"org": _s(org), "thread_id": _s(found.thread_id), "$or": ranges}, {"role": 1, "texts": 1}
            )
            .sort("seq", ASCENDING)
            .to_list()
            if ranges
            else []
        )
        if len(docs) != sum(b - a + 1 for a, b in found.context_ref):
            return None  # the thread's messages are gone: so is the response
        context = tuple(ChatMessage(d["role"], tuple(d["texts"])) for d in docs)
        return msgspec.structs.replace(found, context=context)

    # -- retention ------------------------------------------------------------------------------

    @_unavailable
    async def purge_expired(self, at_us: int) -> PurgeReport:
        threads = 0
        response_ids: list[tuple[str, str]] = []
        while True:
            docs = (
                await self._threads.find({"tomb": False, "expires_us": {"$lte": at_us}})
                .limit(_PURGE_BATCH)
                .to_list()
            )
            for doc in docs:
                ids = await self._tombstone(doc)
                response_ids += [(doc["org"], rid) for rid in ids]
            threads += len(docs)
            if len(docs) < _PURGE_BATCH:
                break
        expired = (
            await self._responses.find({"expires_us": {"$lte": at_us}}, {"org": 1, "id": 1})
            .limit(10 * _PURGE_BATCH)
            .to_list()
        )
        if expired:
            await self._responses.delete_many({"_id": {"$in": [d["_id"] for d in expired]}})
            response_ids += [(d["org"], d["id"]) for d in expired]
        gone = await self._threads.delete_many({"tomb": True, "gone_at": {"$lte": _dt(at_us)}})
        return PurgeReport(
            threads=threads,
            responses=len(response_ids),
            tombstones=gone.deleted_count,
            response_ids=tuple(response_ids),
        )
