"""The MongoDB store's plumbing: client, collections, transactions, tombstones (see mongo.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure

from gateway.errors import StoreUnavailable
from gateway.records import ResponseRecord, ThreadRecord
from gateway.store.mongo_docs import (
    _THREAD_FIELDS,
    Doc,
    Session,
    _dt,
    _fields,
    _is_conflict,
    _key,
    _record,
    _resp_encode,
    _unavailable,
    ensure_indexes,
)
from gateway.threads import Limits, is_expired, tombstone_expires_us


class MongoCollections:
    """The store's connection, collections and the document-level steps its operations share."""

    def __init__(
        self,
        uri: str,
        limits: Limits,
        *,
        database: str = "gateway",
        timeout_s: float = 5.0,
        pool_size: int = 100,
        transactions: str = "auto",
    ) -> None:
        self._limits = limits
        self._transactions_setting = transactions
        self._use_transactions = False
        self._uri = uri
        self._database = database
        self._timeout_ms = int(timeout_s * 1000)
        self._pool_size = pool_size
        self._client: AsyncMongoClient[Doc] | None = None

    def _connect(self) -> None:
        """Make the client. Called from `open`, inside the app's lifespan: the async client binds
        itself to the event loop it first runs on."""
        ms = self._timeout_ms
        self._client = AsyncMongoClient(
            self._uri,
            serverSelectionTimeoutMS=ms,
            connectTimeoutMS=ms,
            socketTimeoutMS=ms,
            timeoutMS=ms,
            maxPoolSize=self._pool_size,
            retryWrites=True,
            tz_aware=True,
        )
        db = self._client[self._database]
        self._threads = db["threads"]
        self._messages = db["messages"]
        self._responses = db["responses"]

    @property
    def client(self) -> AsyncMongoClient[Doc]:
        if self._client is None:
            raise StoreUnavailable("The thread store is not open.")
        return self._client

    # -- plumbing -------------------------------------------------------------------------------

    @_unavailable
    async def open(self) -> None:
        self._connect()
        await ensure_indexes(self._threads, self._messages, self._responses)
        if self._transactions_setting == "auto":
            hello = await self.client.admin.command("hello")
            self._use_transactions = "setName" in hello or hello.get("msg") == "isdbgrid"
        else:
            self._use_transactions = self._transactions_setting == "on"

    @property
    def uses_transactions(self) -> bool:
        return self._use_transactions

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    @_unavailable
    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def _atomic[T](self, fn: Callable[[Session], Awaitable[T]]) -> T | None:
        """Run `fn` in a transaction when the server has them, else as the versioned scheme alone.

        None means the transaction lost a write conflict and wrote nothing: the caller retries.
        """
        if not self._use_transactions:
            return await fn(None)
        async with self.client.start_session() as session:
            try:
                result: T = await session.with_transaction(fn)
            except OperationFailure as exc:
                if _is_conflict(exc):
                    return None
                raise
            return result

    # -- thread documents -----------------------------------------------------------------------

    async def _find(self, org: str, thread_id: str, s: Session = None) -> Doc | None:
        doc: Doc | None = await self._threads.find_one(_key(org, thread_id), session=s)
        return doc

    async def _tombstone(self, doc: Doc, s: Session = None) -> list[str]:
        """Turn a thread document into its tombstone and drop its content."""
        thread = _record(doc)
        key = _key(thread.org, thread.id)
        unset = dict.fromkeys((*_THREAD_FIELDS, "next_seq"), "")
        done = await self._threads.update_one(
            {**key, "ver": doc["ver"]},
            {
                "$set": {"tomb": True, "gone_at": _dt(tombstone_expires_us(thread, self._limits))},
                "$unset": unset,
                "$inc": {"ver": 1},
            },
            session=s,
        )
        if done.matched_count == 0:
            return []  # changed meanwhile: whoever changed it decides
        ids = [
            r["id"]
            async for r in self._responses.find(
                {"org": key["org"], "thread_id": key["id"]}, {"id": 1}, session=s
            )
        ]
        await self._messages.delete_many({"org": key["org"], "thread_id": key["id"]}, session=s)
        await self._responses.delete_many({"org": key["org"], "thread_id": key["id"]}, session=s)
        return ids

    async def _live(self, org: str, thread_id: str, at_us: int, s: Session = None) -> Doc | None:
        doc = await self._find(org, thread_id, s)
        if doc is None or doc.get("tomb"):
            return None
        if is_expired(_record(doc), at_us):
            await self._tombstone(doc, s)
            return None
        return doc

    def _new_doc(self, t: ThreadRecord, next_seq: int, ver: int) -> Doc:
        gone = _dt(t.created_us + self._limits.max_age_us)
        return {
            **_key(t.org, t.id),
            **_fields(t),
            "tomb": False,
            "next_seq": next_seq,
            "ver": ver,
            "gone_at": gone,
        }

    # -- threads --------------------------------------------------------------------------------

    def _response_doc(self, r: ResponseRecord) -> Doc:
        return {
            "org": r.org,
            "id": r.id,
            "thread_id": r.thread_id,
            "expires_us": r.expires_us,
            "expires_at": _dt(r.expires_us),
            "body": _resp_encode(r),
        }
