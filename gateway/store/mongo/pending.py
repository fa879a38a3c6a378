"""Turns on a MongoDB server without transactions never leave half a turn or a wrong count.

A turn is three writes (the thread document, its messages, its response), and any of them can fail
or time out with the outcome unknown. So the first one, the reservation of the thread's sequence
numbers, also records the turn as `pending` in the thread document, with the thread's fields as
they were before it. Until the turn is committed (its `pending` removed once every insert
succeeded), readers see the thread as it was before (`docs.standing_of`) and none of its messages.

A pending turn whose writer failed is settled by the next writer of that thread, or by the purge
loop's repair, once it is older than `grace_s` (by then the server has given up on any of its
writes, whose time is bounded by the client's `timeoutMS`): rolled forward when all its messages and
its response are there, else rolled back (its messages and response deleted, the thread's fields put
back, a thread it created removed, its idempotency key freed). The sequence numbers of a rolled back
turn are never used again: a gap that the lists skip.
"""

from __future__ import annotations

import time
from typing import Any

import structlog

from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.docs import Doc, Session, key
from gateway.store.protocols import IdemClaimed

_log = structlog.get_logger("gateway.store")


def _now_us() -> int:
    return time.time_ns() // 1000


def pending_record(rid: str, n: int, before: dict[str, Any] | None, claim: IdemClaimed | None) -> Doc:
    """What the reservation of a turn writes into its thread's document."""
    idem = None if claim is None else {"key": claim.key, "token": claim.token}
    return {"rid": rid, "n": n, "at_us": _now_us(), "before": before, "idem": idem}


def pending_deletion(mid: str, before: dict[str, Any]) -> Doc:
    """What the deletion of one message writes into its thread's document first."""
    return {"mid": mid, "at_us": _now_us(), "before": before}


class PendingTurns:
    def __init__(self, db: MongoDatabase, *, grace_s: float) -> None:
        self._db = db
        self._grace_us = int(grace_s * 1_000_000)

    async def commit(self, org: str, thread_id: str, rid: str, s: Session = None) -> None:
        """The turn's writes all succeeded: it becomes part of the thread."""
        await self._db.threads.update_one(
            {**key(org, thread_id), "pending.rid": rid}, {"$unset": {"pending": ""}}, session=s
        )

    async def settle(self, doc: Doc, s: Session = None) -> bool:
        """Settle the document's pending turn if its writer is past its time; False while it may
        still be writing (the caller waits and reads again)."""
        pending = doc.get("pending")
        if pending is None:
            return True
        if _now_us() - int(pending["at_us"]) < self._grace_us:
            return False
        await self._resolve(doc, s)
        return True

    async def _resolve(self, doc: Doc, s: Session) -> None:
        pending = doc["pending"]
        if pending.get("mid") is not None:
            await self._resolve_deletion(doc, s)
            return
        rid, org, thread_id = pending["rid"], doc["org"], doc["id"]
        owned = {"org": org, "thread_id": thread_id, "response_id": rid}
        have = await self._db.messages.count_documents(owned, session=s)
        response = await self._db.responses.find_one({"org": org, "id": rid}, {"_id": 1}, session=s)
        guard = {**key(org, thread_id), "ver": doc["ver"], "pending.rid": rid}
        if have == pending["n"] and response is not None:
            await self._db.threads.update_one(
                guard, {"$unset": {"pending": ""}, "$inc": {"ver": 1}}, session=s
            )
            _log.warning("pending_turn_rolled_forward", thread_id=thread_id, response_id=rid)
            return
        await self._db.messages.delete_many(owned, session=s)
        await self._db.responses.delete_one({"org": org, "id": rid}, session=s)
        idem = pending.get("idem")
        if idem is not None:  # the key's answer went with the turn: a retry may run it again
            await self._db.idempotency.delete_one(
                {"org": org, "key": idem["key"], "token": idem["token"]}, session=s
            )
        if pending["before"] is None:
            await self._db.threads.delete_one(guard, session=s)  # the turn would have created it
        else:
            await self._db.threads.update_one(
                guard, {"$set": pending["before"], "$unset": {"pending": ""}, "$inc": {"ver": 1}}, session=s
            )
        _log.warning("pending_turn_rolled_back", thread_id=thread_id, response_id=rid, found=have)

    async def commit_deletion(self, org: str, thread_id: str, mid: str, s: Session = None) -> None:
        await self._db.threads.update_one(
            {**key(org, thread_id), "pending.mid": mid}, {"$unset": {"pending": ""}}, session=s
        )

    async def _resolve_deletion(self, doc: Doc, s: Session) -> None:
        """A message deletion whose writer failed: done if the message is gone, else undone."""
        pending = doc["pending"]
        org, thread_id = doc["org"], doc["id"]
        guard = {**key(org, thread_id), "ver": doc["ver"], "pending.mid": pending["mid"]}
        still = await self._db.messages.find_one(
            {"org": org, "thread_id": thread_id, "id": pending["mid"]}, session=s
        )
        if still is None:
            await self._db.threads.update_one(
                guard, {"$unset": {"pending": ""}, "$inc": {"ver": 1}}, session=s
            )
            return
        await self._db.threads.update_one(
            guard, {"$set": pending["before"], "$unset": {"pending": ""}, "$inc": {"ver": 1}}, session=s
        )

    async def repair(self) -> int:
        """Settle every pending turn past its writer's time (the purge loop's round); how many."""
        cutoff = _now_us() - self._grace_us
        docs = await self._db.threads.find({"pending.at_us": {"$lte": cutoff}}).limit(500).to_list()
        for doc in docs:
            await self._resolve(doc, None)
        return len(docs)
