"""Memories in MongoDB (`MemoryStore`): one document each in `memories`, unique (organization,
assistant, id) by index, and one document per assistant in `memory_scopes` with its version. Every
filter names the organization.

Without transactions the version is moved on after each write: a process that reads the version
and then the memories may cache memories newer than the version it read, never older, so its index
is reloaded at the next turn at the latest.
"""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from gateway.core.memory_records import MemoryChange, MemoryRecord, ScopeVectors
from gateway.core.records import Page
from gateway.store.lifecycle import page
from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.docs import Doc, Session, text, unavailable

_FIELDS = ("org", "assistant_id", "id", "user", "text", "embedding", "metadata", "created_us", "updated_us")
# A scope's memories are read in batches of this many documents.
_BATCH = 2000


def _key(org: str, assistant_id: str) -> Doc:
    return {"org": text(org), "assistant_id": text(assistant_id)}


def _record(doc: Doc) -> MemoryRecord:
    return MemoryRecord(
        org=doc["org"],
        assistant_id=doc["assistant_id"],
        id=doc["id"],
        user=doc.get("user"),
        text=doc["text"],
        embedding=bytes(doc["embedding"]),
        metadata=doc.get("metadata") or {},
        created_us=doc["created_us"],
        updated_us=doc["updated_us"],
    )


async def delete_scope(db: MongoDatabase, org: str, assistant_id: str, s: Session = None) -> None:
    """An assistant's memories removed (inside its deletion's transaction when there is one)."""
    await memories_of(db).delete_many(_key(org, assistant_id), session=s)
    await _bump(db, org, assistant_id, s)


def memories_of(db: MongoDatabase) -> AsyncCollection[Doc]:
    return db.threads.database["memories"]


def _scopes(db: MongoDatabase) -> AsyncCollection[Doc]:
    return db.threads.database["memory_scopes"]


async def _bump(db: MongoDatabase, org: str, assistant_id: str, s: Session = None) -> None:
    await _scopes(db).update_one(_key(org, assistant_id), {"$inc": {"version": 1}}, upsert=True, session=s)


class MongoMemories:
    """`MemoryStore` over the store's database (its indexes made in `open`)."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    @unavailable
    async def open(self) -> None:
        memories = memories_of(self._db)
        await memories.create_index(
            [("org", ASCENDING), ("assistant_id", ASCENDING), ("id", ASCENDING)], unique=True
        )
        await memories.create_index(
            [("org", ASCENDING), ("assistant_id", ASCENDING), ("created_us", DESCENDING), ("id", DESCENDING)]
        )
        await _scopes(self._db).create_index([("org", ASCENDING), ("assistant_id", ASCENDING)], unique=True)

    @unavailable
    async def add_memory(self, memory: MemoryRecord) -> MemoryRecord:
        doc = {f: getattr(memory, f) for f in _FIELDS}
        await memories_of(self._db).insert_one(doc)
        await _bump(self._db, memory.org, memory.assistant_id)
        return memory

    @unavailable
    async def get_memory(self, org: str, assistant_id: str, memory_id: str) -> MemoryRecord | None:
        doc = await memories_of(self._db).find_one({**_key(org, assistant_id), "id": text(memory_id)})
        return None if doc is None else _record(doc)

    @unavailable
    async def update_memory(
        self, org: str, assistant_id: str, memory_id: str, change: MemoryChange
    ) -> MemoryRecord | None:
        update: Doc = {"text": change.text, "embedding": change.embedding, "updated_us": change.at_us}
        if change.metadata is not None:
            update["metadata"] = change.metadata
        doc = await memories_of(self._db).find_one_and_update(
            {**_key(org, assistant_id), "id": text(memory_id)}, {"$set": update}, return_document=True
        )
        if doc is None:
            return None
        await _bump(self._db, org, assistant_id)
        return _record(doc)

    @unavailable
    async def delete_memory(self, org: str, assistant_id: str, memory_id: str) -> bool:
        gone = await memories_of(self._db).delete_one({**_key(org, assistant_id), "id": text(memory_id)})
        if gone.deleted_count == 0:
            return False
        await _bump(self._db, org, assistant_id)
        return True

    @unavailable
    async def list_memories(
        self, org: str, assistant_id: str, *, user: str | None, limit: int, offset: int
    ) -> Page[MemoryRecord]:
        query = _key(org, assistant_id)
        if user is not None:
            query["user"] = {"$in": [None, text(user)]}
        total = await memories_of(self._db).count_documents(query)
        docs = (
            await memories_of(self._db)
            .find(query)
            .sort([("created_us", DESCENDING), ("id", DESCENDING)])
            .skip(offset)
            .limit(limit + 1)
            .to_list()
        )
        return page([_record(d) for d in docs], limit, total=total)

    @unavailable
    async def scope_version(self, org: str, assistant_id: str) -> int:
        doc = await _scopes(self._db).find_one(_key(org, assistant_id))
        return 0 if doc is None else int(doc["version"])

    @unavailable
    async def scope_vectors(self, org: str, assistant_id: str) -> ScopeVectors:
        version = await self.scope_version(org, assistant_id)
        ids: list[str] = []
        users: list[str | None] = []
        embeddings: list[bytes] = []
        cursor = memories_of(self._db).find(
            _key(org, assistant_id), {"id": 1, "user": 1, "embedding": 1}, batch_size=_BATCH
        )
        async for doc in cursor:
            ids.append(doc["id"])
            users.append(doc.get("user"))
            embeddings.append(bytes(doc["embedding"]))
        return ScopeVectors(version=version, ids=ids, users=users, embeddings=embeddings)
