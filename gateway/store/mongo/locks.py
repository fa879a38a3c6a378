"""Turn leases in MongoDB: one document per thread in `leases`, shared by every replica.

A lease is free when its `until_us` has passed (its holder gave it up, or died and stopped renewing
it). Taking it is one conditional upsert: the filter matches only a free lease, and when the
document exists but is held the upsert's insert meets the unique index and fails. Every take
increments `token`, the fencing token a turn's write is checked against (`MongoThreads`).
Documents leave by TTL (`gone_at`) a day after their last use.
"""

from __future__ import annotations

import time

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.docs import Session, dt, key, unavailable
from gateway.store.protocols import TurnLease

_KEEP_US = 86_400_000_000


def _now_us() -> int:
    return time.time_ns() // 1000


class MongoLocks:
    """`SharedLocks` over the `leases` collection."""

    renews = True  # a lease document runs out after its time to live

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    @unavailable
    async def try_acquire(self, org: str, thread_id: str, *, ttl_s: float) -> TurnLease | None:
        now = _now_us()
        until = now + int(ttl_s * 1_000_000)
        try:
            doc = await self._db.leases.find_one_and_update(
                {**key(org, thread_id), "until_us": {"$lte": now}},
                {"$set": {"until_us": until, "gone_at": dt(until + _KEEP_US)}, "$inc": {"token": 1}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return None  # held: the filter did not match and the insert met the unique key
        if doc is None:
            return None
        return TurnLease(org=org, thread_id=thread_id, token=int(doc["token"]))

    @unavailable
    async def renew(self, lease: TurnLease, *, ttl_s: float) -> bool:
        until = _now_us() + int(ttl_s * 1_000_000)
        done = await self._db.leases.update_one(
            {**key(lease.org, lease.thread_id), "token": lease.token},
            {"$set": {"until_us": until, "gone_at": dt(until + _KEEP_US)}},
        )
        return done.matched_count == 1

    @unavailable
    async def release(self, lease: TurnLease) -> None:
        # The document stays (its token counts on); only its time runs out at once.
        await self._db.leases.update_one(
            {**key(lease.org, lease.thread_id), "token": lease.token}, {"$set": {"until_us": 0}}
        )

    async def holds(self, lease: TurnLease, s: Session = None) -> bool:
        """Whether `lease` is still the thread's lease (no later holder took it over)."""
        doc = await self._db.leases.find_one(
            {**key(lease.org, lease.thread_id), "token": lease.token}, {"_id": 1}, session=s
        )
        return doc is not None
