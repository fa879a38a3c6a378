"""The MongoDB store's database: client, collections, transactions, and the thread-document steps
that its parts share (finding, tombstoning, new documents). See `gateway.store.mongo.store`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure

from gateway.core.records import ThreadRecord
from gateway.core.rules import Limits, tombstone_expires_us
from gateway.errors import StoreUnavailable
from gateway.store.codec import thread_fields, thread_of
from gateway.store.mongo.docs import (
    CONTENT_FIELDS,
    Doc,
    Session,
    dt,
    ensure_indexes,
    is_conflict,
    key,
    unavailable,
)


class MongoDatabase:
    """One database of one client, made in `open` (inside the app's lifespan: the async client binds
    itself to the event loop it first runs on)."""

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
        self.limits = limits
        self._transactions_setting = transactions
        self._use_transactions = False
        self._uri = uri
        self._database = database
        self._timeout_ms = int(timeout_s * 1000)
        self._pool_size = pool_size
        self._client: AsyncMongoClient[Doc] | None = None
        self._collections: tuple[AsyncCollection[Doc], ...] | None = None

    @property
    def timeout_s(self) -> float:
        """The bound on every operation (the driver's `timeoutMS`, which the server also keeps)."""
        return self._timeout_ms / 1000

    @property
    def client(self) -> AsyncMongoClient[Doc]:
        if self._client is None:
            raise StoreUnavailable("The thread store is not open.")
        return self._client

    def _opened(self) -> tuple[AsyncCollection[Doc], ...]:
        if self._collections is None:
            raise StoreUnavailable("The thread store is not open.")
        return self._collections

    @property
    def threads(self) -> AsyncCollection[Doc]:
        return self._opened()[0]

    @property
    def messages(self) -> AsyncCollection[Doc]:
        return self._opened()[1]

    @property
    def responses(self) -> AsyncCollection[Doc]:
        return self._opened()[2]

    @property
    def leases(self) -> AsyncCollection[Doc]:
        return self._opened()[3]

    @property
    def idempotency(self) -> AsyncCollection[Doc]:
        return self._opened()[4]

    @property
    def cancels(self) -> AsyncCollection[Doc]:
        return self._opened()[5]

    @property
    def assistants(self) -> AsyncCollection[Doc]:
        return self._opened()[6]

    @unavailable
    async def open(self) -> None:
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
        names = ("threads", "messages", "responses", "leases", "idempotency", "cancels", "assistants")
        self._collections = tuple(db[name] for name in names)
        await ensure_indexes(*self._collections)
        if self._transactions_setting == "auto":
            hello = await self.client.admin.command("hello")
            self._use_transactions = "setName" in hello or hello.get("msg") == "isdbgrid"
        else:
            self._use_transactions = self._transactions_setting == "on"

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
            self._collections = None

    @unavailable
    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def atomic[T](self, fn: Callable[[Session], Awaitable[T]]) -> T | None:
        """Run `fn` in a transaction when the server has them, else as the versioned scheme alone.

        None means the transaction lost a write conflict and wrote nothing: the caller retries.
        """
        if not self._use_transactions:
            return await fn(None)
        async with self.client.start_session() as session:
            try:
                result: T = await session.with_transaction(fn)
            except OperationFailure as exc:
                if is_conflict(exc):
                    return None
                raise
            return result

    # -- thread documents -----------------------------------------------------------------------

    async def find(self, org: str, thread_id: str, s: Session = None) -> Doc | None:
        doc: Doc | None = await self.threads.find_one(key(org, thread_id), session=s)
        return doc

    async def tombstone(self, doc: Doc, s: Session = None) -> list[str]:
        """Turn a thread document into its tombstone and drop its content; the response ids."""
        thread = thread_of(doc)
        k = key(thread.org, thread.id)
        done = await self.threads.update_one(
            {**k, "ver": doc["ver"]},
            {
                "$set": {"tomb": True, "gone_at": dt(tombstone_expires_us(thread, self.limits))},
                "$unset": dict.fromkeys(CONTENT_FIELDS, ""),
                "$inc": {"ver": 1},
            },
            session=s,
        )
        if done.matched_count == 0:
            return []  # changed meanwhile: whoever changed it decides
        owned = {"org": k["org"], "thread_id": k["id"]}
        ids = [r["id"] async for r in self.responses.find(owned, {"id": 1}, session=s)]
        await self.messages.delete_many(owned, session=s)
        await self.responses.delete_many(owned, session=s)
        await self.threads.database["summaries"].delete_many(owned, session=s)
        return ids

    def new_doc(self, t: ThreadRecord, next_seq: int, ver: int) -> Doc:
        """The document of a new thread: its fields, the reserved sequence numbers, its version."""
        return {
            **thread_fields(t),
            "tomb": False,
            "next_seq": next_seq,
            "ver": ver,
            "gone_at": dt(t.created_us + self.limits.max_age_us),
        }
