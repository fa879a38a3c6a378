"""The organization's threads deleted at once, and single messages edited or deleted, in MongoDB
(parts of `MongoThreads`, which hands these methods out as its own)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from gateway.core.records import MessageRecord, ThreadRecord
from gateway.core.rules import check_accepts_edit
from gateway.errors import MessageNotFound, StoreUnavailable, ThreadNotFound
from gateway.store.codec import encode_metadata, message_of, thread_fields, thread_of
from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.docs import Doc, backoff, key, text, unavailable
from gateway.store.mongo.pending import PendingTurns, pending_deletion
from gateway.store.protocols import MessageEdit

if TYPE_CHECKING:
    from gateway.store.mongo.threads import MongoThreads

MAX_ATTEMPTS = 200


class MongoEdits:
    def __init__(self, db: MongoDatabase, threads: MongoThreads, pending: PendingTurns) -> None:
        self._db = db
        self._threads = threads
        self._pending = pending

    @unavailable
    async def delete_all_threads(self, org: str, at_us: int) -> tuple[int, tuple[str, ...]]:
        deleted = 0
        response_ids: list[str] = []
        while True:
            docs = (
                await self._db.threads.find({"org": text(org), "tomb": False}, {"id": 1}).limit(500).to_list()
            )
            if not docs:
                return deleted, tuple(response_ids)
            for doc in docs:
                live = await self._threads.live(org, doc["id"], at_us)  # settled; an expired one tombstoned
                if live is None:
                    continue
                removed = await self._threads.delete_thread(org, doc["id"], at_us)
                if removed is not None:
                    deleted += 1
                    response_ids += removed

    async def _editable(self, org: str, thread_id: str, at_us: int) -> tuple[Doc, ThreadRecord]:
        doc = await self._threads.live(org, thread_id, at_us)
        if doc is None:
            raise ThreadNotFound(thread_id)
        thread = thread_of(doc)
        check_accepts_edit(thread)
        return doc, thread

    async def _message_doc(self, org: str, thread_id: str, message_id: str) -> Doc:
        found: Doc | None = await self._db.messages.find_one(
            {"org": text(org), "thread_id": text(thread_id), "id": text(message_id)}
        )
        if found is None:
            raise MessageNotFound(message_id)
        return found

    @unavailable
    async def update_message(
        self, org: str, thread_id: str, message_id: str, edit: MessageEdit, at_us: int
    ) -> MessageRecord:
        for attempt in range(MAX_ATTEMPTS):
            doc, _ = await self._editable(org, thread_id, at_us)
            changed = edit(message_of(await self._message_doc(org, thread_id, message_id)))
            # The thread first: a cached response made before the edit is never served after it,
            # even if the message's own write then fails.
            done = await self._db.threads.update_one(
                {**key(org, thread_id), "ver": doc["ver"]},
                {"$set": {"updated_us": at_us, "edited_us": at_us}, "$inc": {"ver": 1}},
            )
            if not done.matched_count:
                await backoff(attempt)
                continue
            await self._db.messages.update_one(
                {"org": text(org), "thread_id": text(thread_id), "id": text(message_id)},
                {"$set": {"texts": list(changed.texts), "metadata": encode_metadata(changed.metadata)}},
            )
            return changed
        raise StoreUnavailable("The thread store is too busy; try again.")

    @unavailable
    async def delete_message(self, org: str, thread_id: str, message_id: str, at_us: int) -> None:
        for attempt in range(MAX_ATTEMPTS):
            doc, thread = await self._editable(org, thread_id, at_us)
            await self._message_doc(org, thread_id, message_id)
            before = {f: v for f, v in thread_fields(thread).items() if f not in ("org", "id")}
            after = msgspec.structs.replace(
                thread, message_count=thread.message_count - 1, updated_us=at_us, edited_us=at_us
            )
            # Two writes without a transaction: pending until both are done (see `pending`).
            done = await self._db.threads.update_one(
                {**key(org, thread_id), "ver": doc["ver"]},
                {
                    "$set": {**thread_fields(after), "pending": pending_deletion(message_id, before)},
                    "$inc": {"ver": 1},
                },
            )
            if not done.matched_count:
                await backoff(attempt)
                continue
            await self._db.messages.delete_one(
                {"org": text(org), "thread_id": text(thread_id), "id": text(message_id)}
            )
            await self._pending.commit_deletion(org, thread_id, message_id)
            return
        raise StoreUnavailable("The thread store is too busy; try again.")
