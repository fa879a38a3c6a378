"""Rate-limit counters in MongoDB (`gateway.ratelimit.Counters`): one document per key digest and
minute in `rate_limits` (unique by index), counted by an atomic `$inc` with upsert (one round trip,
the counts after it in the answer), dropped by a TTL index a minute after the minute ends."""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from gateway.ratelimit import KEEP_S, WINDOW_S
from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.docs import Doc, text, unavailable


def rate_limits_of(db: MongoDatabase) -> AsyncCollection[Doc]:
    return db.threads.database["rate_limits"]


def _key(ident: str, window: int) -> Doc:
    return {"ident": text(ident), "window": window}


def _gone_at(window: int) -> datetime:
    return datetime.fromtimestamp(window * WINDOW_S + KEEP_S, UTC)


class MongoRateLimits:
    name = "mongodb"

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    @unavailable
    async def open(self) -> None:
        rate_limits = rate_limits_of(self._db)
        await rate_limits.create_index([("ident", ASCENDING), ("window", ASCENDING)], unique=True)
        await rate_limits.create_index("gone_at", expireAfterSeconds=0)

    async def _inc(self, ident: str, window: int, field: str, n: int) -> Doc:
        update = {
            "$inc": {"requests": 0, "tokens": 0} | {field: n},
            "$setOnInsert": {"gone_at": _gone_at(window)},
        }
        collection = rate_limits_of(self._db)
        try:
            doc = await collection.find_one_and_update(
                _key(ident, window), update, upsert=True, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:
            # Two first counts of a window raced to insert it: it exists now, so this one updates.
            doc = await collection.find_one_and_update(
                _key(ident, window), update, return_document=ReturnDocument.AFTER
            )
        assert doc is not None
        return doc

    @unavailable
    async def hit(self, ident: str, window: int, requests: int) -> tuple[int, int]:
        doc = await self._inc(ident, window, "requests", requests)
        return int(doc["requests"]), int(doc["tokens"])

    @unavailable
    async def spend(self, ident: str, window: int, tokens: int) -> None:
        await self._inc(ident, window, "tokens", tokens)
