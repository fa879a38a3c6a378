"""Cancels of running streams between replicas, in MongoDB's `cancels` collection (`CancelStore`)."""

from __future__ import annotations

from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.docs import Doc, dt, text, unavailable

# A request or answer nobody reads again (the stream or the cancel gone) leaves by TTL after this.
KEEP_US = 600_000_000


def _key(org: str, thread_id: str) -> Doc:
    return {"org": text(org), "thread_id": text(thread_id)}


class MongoCancels:
    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    @unavailable
    async def request_cancel(self, org: str, thread_id: str, at_us: int) -> None:
        await self._db.cancels.replace_one(
            _key(org, thread_id),
            {**_key(org, thread_id), "requested_us": at_us, "outcome": None, "gone_at": dt(at_us + KEEP_US)},
            upsert=True,
        )

    @unavailable
    async def cancel_requested(self, org: str, thread_id: str, since_us: int) -> int | None:
        doc = await self._db.cancels.find_one(
            {**_key(org, thread_id), "requested_us": {"$gte": since_us}, "outcome": None}
        )
        return None if doc is None else int(doc["requested_us"])

    @unavailable
    async def answer_cancel(self, org: str, thread_id: str, requested_us: int, outcome: bytes) -> None:
        await self._db.cancels.update_one(
            {**_key(org, thread_id), "requested_us": requested_us}, {"$set": {"outcome": outcome}}
        )

    @unavailable
    async def cancel_answer(self, org: str, thread_id: str, requested_us: int) -> bytes | None:
        doc = await self._db.cancels.find_one({**_key(org, thread_id), "requested_us": requested_us})
        return None if doc is None or doc["outcome"] is None else bytes(doc["outcome"])
