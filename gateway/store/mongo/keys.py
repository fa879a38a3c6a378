"""API keys in MongoDB (`KeyStore`, SPEC §15): one document per key in `api_keys`, `_id` the key's
id, `hash` its SHA-256 digest (unique by index; the key itself is never stored).

The change marker every worker and replica polls (`keys_marker`) is the number of keys and the sum
of their revisions: each change of a key (its creation, its revocation) raises its own document's
`rev` in the same single-document write, so the marker moves with every change, with no second
write that a crash could lose and no clock that two machines would have to agree on. Writing
`last_used_us` leaves `rev` alone: being used does not make every worker reload its snapshot.
"""

from __future__ import annotations

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.docs import Doc, text, unavailable
from gateway.store.protocols import KeyRecord

_LIVE: Doc = {"revoked_us": None}


def keys_of(db: MongoDatabase) -> AsyncCollection[Doc]:
    return db.threads.database["api_keys"]


def _digest(value: bytes) -> bytes:
    # Like `text` for strings: a filter value is exactly what it claims to be.
    if type(value) is not bytes:
        raise TypeError("a key digest is bytes")
    return value


def _record(doc: Doc) -> KeyRecord:
    return KeyRecord(
        id=doc["_id"],
        org=doc["org"],
        name=doc.get("name"),
        created_us=doc["created_us"],
        last_used_us=doc.get("last_used_us"),
        revoked_us=doc.get("revoked_us"),
    )


class MongoKeys:
    """`KeyStore` over the store's database (its indexes made in `open`)."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    @unavailable
    async def open(self) -> None:
        keys = keys_of(self._db)
        await keys.create_index("hash", unique=True)
        await keys.create_index([("org", ASCENDING), ("created_us", ASCENDING), ("_id", ASCENDING)])
        await keys.create_index([("created_us", ASCENDING), ("_id", ASCENDING)])

    @unavailable
    async def create_key(self, record: KeyRecord, digest: bytes) -> None:
        await keys_of(self._db).insert_one(
            {
                "_id": text(record.id),
                "hash": _digest(digest),
                "org": text(record.org),
                "name": record.name,
                "created_us": record.created_us,
                "last_used_us": None,
                "revoked_us": None,
                "rev": 1,
            }
        )

    @unavailable
    async def list_keys(self, org: str | None) -> list[KeyRecord]:
        query: Doc = {} if org is None else {"org": text(org)}
        order = [("created_us", ASCENDING), ("_id", ASCENDING)]
        cursor = keys_of(self._db).find(query, {"hash": 0}).sort(order)
        return [_record(doc) async for doc in cursor]

    @unavailable
    async def revoke_key(self, key_id: str, at_us: int) -> bool:
        done = await keys_of(self._db).update_one(
            {"_id": text(key_id), **_LIVE}, {"$set": {"revoked_us": at_us}, "$inc": {"rev": 1}}
        )
        return done.modified_count > 0

    @unavailable
    async def keys_marker(self) -> tuple[int, int]:
        cursor = await keys_of(self._db).aggregate(
            [{"$group": {"_id": None, "n": {"$sum": 1}, "rev": {"$sum": "$rev"}}}]
        )
        found = await cursor.to_list(1)
        if not found:
            return 0, 0
        return int(found[0]["n"]), int(found[0]["rev"])

    @unavailable
    async def live_keys(self) -> dict[bytes, tuple[str, str]]:
        cursor = keys_of(self._db).find(_LIVE, {"hash": 1, "org": 1})
        return {bytes(doc["hash"]): (doc["_id"], doc["org"]) async for doc in cursor}

    @unavailable
    async def find_key(self, digest: bytes) -> tuple[str, str] | None:
        doc = await keys_of(self._db).find_one({"hash": _digest(digest), **_LIVE}, {"org": 1})
        return None if doc is None else (doc["_id"], doc["org"])

    @unavailable
    async def touch_keys(self, key_ids: list[str], at_us: int) -> None:
        if key_ids:
            await keys_of(self._db).update_many(
                {"_id": {"$in": [text(k) for k in key_ids]}}, {"$set": {"last_used_us": at_us}}
            )
