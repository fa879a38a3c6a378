"""Assistants in MongoDB: one document each in `assistants`, unique (organization, id) by index; every
filter names the organization.

Deleting an assistant detaches its threads (`assistant_id` -> null). On a replica set the deletion
and the detach run in one transaction. Without transactions the threads are detached before the
assistant is deleted and once more after (a thread created under it meanwhile), so a failure part way
leaves at most an assistant whose threads are already detached: the client's retry finishes it.
"""

from __future__ import annotations

import re

from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from gateway.core.records import AssistantRecord, Page
from gateway.errors import AssistantAlreadyExists, AssistantNotFound, StoreUnavailable
from gateway.store.codec import assistant_fields, assistant_of, name_key
from gateway.store.lifecycle import page
from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.docs import Doc, Session, backoff, key, text, unavailable
from gateway.store.mongo.memories import delete_scope
from gateway.store.protocols import AssistantUpdate

MAX_ATTEMPTS = 200


class MongoAssistants:
    """`AssistantStore` over the `assistants` collection (and the detach of its threads)."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    @unavailable
    async def create_assistant(self, assistant: AssistantRecord) -> AssistantRecord:
        try:
            await self._db.assistants.insert_one({**assistant_fields(assistant), "ver": 1})
        except DuplicateKeyError:
            raise AssistantAlreadyExists(assistant.id) from None
        return assistant

    @unavailable
    async def get_assistant(self, org: str, assistant_id: str) -> AssistantRecord | None:
        doc = await self._db.assistants.find_one(key(org, assistant_id))
        return None if doc is None else assistant_of(doc)

    @unavailable
    async def list_assistants(
        self, org: str, *, limit: int, offset: int, search: str | None
    ) -> Page[AssistantRecord]:
        query: Doc = {"org": text(org)}
        if search:
            # The term as a literal: its regex characters escaped.
            query["name_key"] = {"$regex": re.escape(name_key(text(search)))}
        total = await self._db.assistants.count_documents(query)
        docs = (
            await self._db.assistants.find(query)
            .sort([("created_us", DESCENDING), ("id", DESCENDING)])
            .skip(offset)
            .limit(limit + 1)
            .to_list()
        )
        return page([assistant_of(d) for d in docs], limit, total=total)

    @unavailable
    async def update_assistant(
        self, org: str, assistant_id: str, update: AssistantUpdate, at_us: int
    ) -> AssistantRecord:
        for attempt in range(MAX_ATTEMPTS):
            doc = await self._db.assistants.find_one(key(org, assistant_id))
            if doc is None:
                raise AssistantNotFound(assistant_id)
            found = assistant_of(doc)
            changed = update(found)
            if changed is found:
                return found
            # Read-modify-write under the document's version: a concurrent update makes this retry.
            done = await self._db.assistants.update_one(
                {**key(org, assistant_id), "ver": doc["ver"]},
                {"$set": assistant_fields(changed), "$inc": {"ver": 1}},
            )
            if done.matched_count:
                return changed
            await backoff(attempt)
        raise StoreUnavailable("The assistant store is too busy; try again.")

    async def _detach(self, org: str, assistant_id: str, s: Session) -> int:
        """Clear the assistant of its threads. `ver` moves on, so a writer that read a thread before
        writes it again from a fresh read (and cannot put the assistant back); the thread fields
        kept for a pending turn's roll-back are cleared too."""
        owned = {"org": text(org), "assistant_id": text(assistant_id)}
        done = await self._db.threads.update_many(
            owned, {"$set": {"assistant_id": None}, "$inc": {"ver": 1}}, session=s
        )
        await self._db.threads.update_many(
            {"org": text(org), "pending.before.assistant_id": text(assistant_id)},
            {"$set": {"pending.before.assistant_id": None}, "$inc": {"ver": 1}},
            session=s,
        )
        return int(done.modified_count)

    @unavailable
    async def delete_assistant(self, org: str, assistant_id: str, at_us: int) -> int | None:
        async def remove(s: Session) -> tuple[bool, int]:
            detached = await self._detach(org, assistant_id, s)
            gone = await self._db.assistants.delete_one(key(org, assistant_id), session=s)
            if gone.deleted_count == 0:
                return False, 0
            await delete_scope(self._db, org, assistant_id, s)
            return True, detached + await self._detach(org, assistant_id, s)

        for attempt in range(MAX_ATTEMPTS):
            outcome = await self._db.atomic(remove)
            if outcome is not None:
                found, detached = outcome
                return detached if found else None
            await backoff(attempt)
        raise StoreUnavailable("The assistant store is too busy; try again.")
