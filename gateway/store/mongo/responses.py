"""Responses in MongoDB: one document each, the record as msgpack; a thread's by reference."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING

from gateway.core.records import ResponseRecord
from gateway.errors import StoreUnavailable
from gateway.store.codec import decode_response
from gateway.store.jobs import NewJob
from gateway.store.lifecycle import with_context
from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.docs import Doc, Session, key, response_doc, text, unavailable
from gateway.store.mongo.idempotency import finish
from gateway.store.mongo.jobs import COLLECTION as JOBS
from gateway.store.mongo.jobs import insert_job
from gateway.store.protocols import IdemDone
from providers.base import ChatMessage


class MongoResponses:
    """`ResponseStore` over the `responses` collection."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    @unavailable
    async def save_response(
        self, response: ResponseRecord, idempotency: IdemDone | None = None, jobs: Sequence[NewJob] = ()
    ) -> None:
        """One transaction on a replica set. Without transactions the writes go in this order (see
        `ResponseStore.save_response`): a job is only written once its response is, and the key's
        answer (which names the job) only once the job is; a failure between them fails the call."""

        async def op(s: Session) -> bool:
            await self._db.responses.insert_one(response_doc(response), session=s)
            for job in jobs:
                await insert_job(self._db.threads.database[JOBS], job, s)
            if idempotency is not None:
                await finish(self._db, idempotency, s)
            return True

        if await self._db.atomic(op) is None:
            # The transaction lost a write conflict and wrote nothing: the answer must not say saved.
            raise StoreUnavailable("The response store is too busy; try again.")

    @unavailable
    async def get_response(self, org: str, response_id: str, at_us: int) -> ResponseRecord | None:
        doc = await self._db.responses.find_one(
            {"org": text(org), "id": text(response_id), "expires_us": {"$gt": at_us}}
        )
        if doc is None:
            return None
        found = decode_response(doc["body"])
        if found.context_ref is None or found.thread_id is None:
            return found
        # One indexed read of the thread's messages the response saw.
        ranges = [{"seq": {"$gte": a, "$lte": b}} for a, b in found.context_ref]
        docs: list[Doc] = []
        if ranges:
            query = {"org": text(org), "thread_id": text(found.thread_id), "$or": ranges}
            docs = (
                await self._db.messages.find(query, {"role": 1, "texts": 1}).sort("seq", ASCENDING).to_list()
            )
        return with_context(found, [ChatMessage(d["role"], tuple(d["texts"])) for d in docs])

    @unavailable
    async def delete_response(self, org: str, response_id: str, at_us: int) -> bool:
        gone = await self._db.responses.find_one_and_delete(
            {"org": text(org), "id": text(response_id), "expires_us": {"$gt": at_us}}, {"thread_id": 1}
        )
        if gone is not None and gone.get("thread_id") is not None:
            # Its thread's cached responses are checked against this (gateway.store.cached); `ver`
            # moves on so that a turn writing the thread meanwhile reads it again.
            await self._db.threads.update_one(
                key(org, gone["thread_id"]), {"$max": {"edited_us": at_us}, "$inc": {"ver": 1}}
            )
        return gone is not None
