"""The production store: MongoDB through pymongo's native async client.

Collections
- `threads`: one document per (organization, id). A deleted or expired thread becomes a tombstone
  document (`tomb: true`, no content) under the same key, so the unique index alone stops an id
  from being reborn. `gone_at` (TTL index) is the thread's age limit: the database itself drops
  old threads and old tombstones even if the gateway's purge never runs.
- `messages`: unique (organization, thread, seq) and (organization, id); `gone_at` TTL as the thread.
- `responses`: unique (organization, id); TTL on `expires_at` (24 hours by default).
- `assistants`: unique (organization, id); a thread names its assistant in `assistant_id`.
- `summaries`: one per thread, unique (organization, thread_id); dropped with the thread.
- `api_keys`: the keys kept in the store, by id, unique by their SHA-256 digest (`keys`).
The same expiry rules are checked on every read, since TTL deletion runs only once a minute.

The aggregates are parts over one `MongoDatabase` (composition): `threads` (threads, messages,
turns), `responses` and `assistants`; retention spans threads and responses.
"""

from __future__ import annotations

from gateway.store.mongo.assistants import MongoAssistants
from gateway.store.mongo.cancels import MongoCancels
from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.docs import dt, unavailable
from gateway.store.mongo.idempotency import MongoIdempotency
from gateway.store.mongo.jobs import MongoJobs
from gateway.store.mongo.keys import MongoKeys
from gateway.store.mongo.locks import MongoLocks
from gateway.store.mongo.memories import MongoMemories
from gateway.store.mongo.pending import PendingTurns
from gateway.store.mongo.ratelimits import MongoRateLimits
from gateway.store.mongo.responses import MongoResponses
from gateway.store.mongo.summaries import MongoSummaries
from gateway.store.mongo.threads import MongoThreads
from gateway.store.protocols import PurgeReport

_PURGE_BATCH = 500


class MongoStore:
    name = "mongodb"

    def __init__(self, db: MongoDatabase, *, pending_grace_s: float | None = None) -> None:
        self._db = db
        self._locks = MongoLocks(db)
        # A pending turn is settled once its writer is surely done: the server keeps the driver's
        # `timeoutMS` too, so twice that leaves room for a clock that runs a little fast.
        grace = 2 * db.timeout_s if pending_grace_s is None else pending_grace_s
        self._pending = PendingTurns(db, grace_s=grace)
        self._threads = MongoThreads(db, self._locks, self._pending)
        self._responses = MongoResponses(db)
        self._assistants = MongoAssistants(db)
        self._idempotency = MongoIdempotency(db)
        self._cancels = MongoCancels(db)
        self._jobs = MongoJobs(db)
        self._memories = MongoMemories(db)
        self._summaries = MongoSummaries(db)
        self._rate_limits = MongoRateLimits(db)
        self._keys = MongoKeys(db)

    @property
    def threads(self) -> MongoThreads:
        return self._threads

    @property
    def responses(self) -> MongoResponses:
        return self._responses

    @property
    def assistants(self) -> MongoAssistants:
        return self._assistants

    @property
    def turn_locks(self) -> MongoLocks:
        return self._locks

    @property
    def cancels(self) -> MongoCancels:
        return self._cancels

    @property
    def idempotency(self) -> MongoIdempotency:
        return self._idempotency

    @property
    def jobs(self) -> MongoJobs:
        return self._jobs

    @property
    def memories(self) -> MongoMemories:
        return self._memories

    @property
    def summaries(self) -> MongoSummaries:
        return self._summaries

    @property
    def rate_limits(self) -> MongoRateLimits:
        return self._rate_limits

    @property
    def keys(self) -> MongoKeys:
        return self._keys

    async def open(self) -> None:
        await self._db.open()
        await self._jobs.open()
        await self._memories.open()
        await self._summaries.open()
        await self._rate_limits.open()
        await self._keys.open()

    async def close(self) -> None:
        await self._db.close()

    async def ping(self) -> None:
        await self._db.ping()

    @unavailable
    async def purge_expired(self, at_us: int) -> PurgeReport:
        db = self._db
        await self._pending.repair()
        threads = 0
        response_ids: list[tuple[str, str]] = []
        while True:
            docs = (
                await db.threads.find(
                    {"tomb": False, "expires_us": {"$lte": at_us}, "pending": {"$exists": False}}
                )
                .limit(_PURGE_BATCH)
                .to_list()
            )
            for doc in docs:
                ids = await db.tombstone(doc)
                response_ids += [(doc["org"], rid) for rid in ids]
            threads += len(docs)
            if len(docs) < _PURGE_BATCH:
                break
        expired = (
            await db.responses.find({"expires_us": {"$lte": at_us}}, {"org": 1, "id": 1})
            .limit(10 * _PURGE_BATCH)
            .to_list()
        )
        if expired:
            await db.responses.delete_many({"_id": {"$in": [d["_id"] for d in expired]}})
            response_ids += [(d["org"], d["id"]) for d in expired]
        gone = await db.threads.delete_many({"tomb": True, "gone_at": {"$lte": dt(at_us)}})
        await db.idempotency.delete_many({"expires_us": {"$lte": at_us}})
        await self._jobs.purge(at_us)
        return PurgeReport(
            threads=threads,
            responses=len(response_ids),
            tombstones=gone.deleted_count,
            response_ids=tuple(response_ids),
        )
