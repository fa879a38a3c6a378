"""Reading a thread's messages in MongoDB: the paged list and a turn's history (newest first)."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING

from gateway.core.records import HistoryMessage, MessageRecord, Page
from gateway.store.codec import message_of
from gateway.store.lifecycle import Standing, page
from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.docs import Doc, hidden_messages, standing_of, text, unavailable
from gateway.store.protocols import CursorNotFound
from providers.base import ChatMessage

# What a turn's history reads of each message.
_HISTORY_FIELDS = {"_id": 0, "seq": 1, "role": 1, "texts": 1}


class MongoMessages:
    """The message reads of `MongoThreads` (which hands them out as its own)."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    async def list_messages(
        self,
        org: str,
        thread_id: str,
        *,
        limit: int,
        after: str | None,
        descending: bool,
        at_us: int,
        before: str | None = None,
    ) -> Page[MessageRecord] | None:
        doc = await self._db.find(org, thread_id)
        standing, _ = standing_of(doc, at_us)
        if standing is not Standing.LIVE:
            return None
        query: Doc = {"org": text(org), "thread_id": text(thread_id)}
        query.update(hidden_messages(doc))
        down = descending != (before is not None)  # a page before a cursor is read backwards
        for name in (after, before):
            if name is None:
                continue
            cursor = await self._db.messages.find_one(
                {"org": text(org), "id": text(name), "thread_id": text(thread_id)}
            )
            if cursor is None:
                raise CursorNotFound(name)
            query["seq"] = {"$lt" if down else "$gt": cursor["seq"]}
        docs = (
            await self._db.messages.find(query)
            .sort("seq", DESCENDING if down else ASCENDING)
            .limit(limit + 1)
            .to_list()
        )
        return page([message_of(d) for d in docs], limit, backwards=before is not None)

    async def history(
        self, org: str, thread_id: str, hidden: Doc, *, system: bool, limit: int
    ) -> list[HistoryMessage]:
        """The newest `limit` system (or other) messages of a thread, newest first."""
        return await self._tail(self._history_query(org, thread_id, hidden, system=system), limit)

    async def _tail(self, query: Doc, limit: int) -> list[HistoryMessage]:
        docs = (
            await self._db.messages.find(query, _HISTORY_FIELDS)
            .sort("seq", DESCENDING)
            .limit(limit)
            .to_list()
        )
        return [HistoryMessage(d["seq"], ChatMessage(d["role"], tuple(d["texts"]))) for d in docs]

    @staticmethod
    def _history_query(org: str, thread_id: str, hidden: Doc, *, system: bool) -> Doc:
        query: Doc = {
            "org": text(org),
            "thread_id": text(thread_id),
            "role": "system" if system else {"$ne": "system"},
        }
        return {**query, **hidden}

    @unavailable
    async def recent_messages(
        self, org: str, thread_id: str, *, before_seq: int | None, limit: int
    ) -> list[HistoryMessage]:
        hidden = hidden_messages(await self._db.find(org, thread_id))
        query = self._history_query(org, thread_id, hidden, system=False)
        if before_seq is not None:
            query["seq"] = {"$lt": int(before_seq)}
        return await self._tail(query, limit)

    @unavailable
    async def system_messages(self, org: str, thread_id: str, *, limit: int) -> list[HistoryMessage]:
        hidden = hidden_messages(await self._db.find(org, thread_id))
        return await self._tail(self._history_query(org, thread_id, hidden, system=True), limit)
