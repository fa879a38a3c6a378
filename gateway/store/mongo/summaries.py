"""Thread summaries in MongoDB (`SummaryStore`): one document per thread in `summaries`, unique
(organization, thread) by index, with its thread's `gone_at` (TTL) so the database drops it with
the thread even if the gateway does not. A thread's tombstone deletes it (`MongoDatabase.tombstone`).

Without transactions a summary written while its thread is being deleted could outlive it: a write
is checked against the thread document again after it lands, and removed if the thread is gone.
"""

from __future__ import annotations

import msgspec
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from gateway.core.records import SummaryRecord
from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.docs import Doc, text, unavailable

_FIELDS = ("org", "thread_id", "thread_created_us", "basis_us", "covers_seq", "text", "model", "updated_us")


def summaries_of(db: MongoDatabase) -> AsyncCollection[Doc]:
    return db.threads.database["summaries"]


def _key(org: str, thread_id: str) -> Doc:
    return {"org": text(org), "thread_id": text(thread_id)}


def _record(doc: Doc) -> SummaryRecord:
    return msgspec.convert({f: doc[f] for f in _FIELDS}, SummaryRecord)


class MongoSummaries:
    """`SummaryStore` over the store's database (its indexes made in `open`)."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    @unavailable
    async def open(self) -> None:
        summaries = summaries_of(self._db)
        await summaries.create_index([("org", ASCENDING), ("thread_id", ASCENDING)], unique=True)
        await summaries.create_index("gone_at", expireAfterSeconds=0)

    @unavailable
    async def get_summary(self, org: str, thread_id: str) -> SummaryRecord | None:
        doc = await summaries_of(self._db).find_one(_key(org, thread_id))
        return None if doc is None else _record(doc)

    async def _thread(self, s: SummaryRecord) -> Doc | None:
        """The summary's thread document while it lives in the summary's generation."""
        doc: Doc | None = await self._db.threads.find_one(
            {"org": text(s.org), "id": text(s.thread_id), "tomb": False, "created_us": s.thread_created_us},
            {"gone_at": 1},
        )
        return doc

    @unavailable
    async def put_summary(self, summary: SummaryRecord) -> bool:
        s = summary
        thread = await self._thread(s)
        if thread is None:
            return False
        k = _key(s.org, s.thread_id)
        # Replaced only by a newer one of the same thread, or over another life's (or none).
        newer = {
            "$or": [
                {"thread_created_us": {"$ne": s.thread_created_us}},
                {"basis_us": {"$lt": s.basis_us}},
                {"basis_us": s.basis_us, "covers_seq": {"$lt": s.covers_seq}},
            ]
        }
        doc = {f: getattr(s, f) for f in _FIELDS} | {"gone_at": thread["gone_at"]}
        done = await summaries_of(self._db).update_one({**k, **newer}, {"$set": doc})
        if done.matched_count == 0:
            existing = await summaries_of(self._db).find_one(k, {"_id": 1})
            if existing is not None:
                return False  # the kept one is as new or newer
            try:
                await summaries_of(self._db).insert_one(dict(doc))
            except DuplicateKeyError:
                return False  # a concurrent writer's insert won the key
        if await self._thread(s) is None:
            # Deleted while this was written: its tombstone may have run before the write landed.
            await summaries_of(self._db).delete_one({**k, "thread_created_us": s.thread_created_us})
            return False
        return True
