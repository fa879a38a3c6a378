"""MongoDB documents of the store: records as documents (through `gateway.store.codec`), and the
safety rules every filter and every driver call goes through."""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from gateway.core.records import ResponseRecord, ThreadRecord
from gateway.errors import StoreUnavailable
from gateway.store.codec import THREAD_FIELDS, encode_response, thread_of
from gateway.store.lifecycle import Standing, standing

Doc = dict[str, Any]
Session = AsyncClientSession | None
_CONFLICT_CODES = frozenset({112, 251})  # WriteConflict, NoSuchTransaction
# What a tombstone drops of its thread document (it keeps the key, `ver` and `gone_at`).
CONTENT_FIELDS = (*(f for f in THREAD_FIELDS if f not in ("org", "id")), "next_seq", "pending")


def text(value: str) -> str:
    """Every value put into a filter passes here: a string, never a client-supplied document."""
    if type(value) is not str:
        raise TypeError("filter values must be strings")
    return value


def key(org: str, thread_id: str) -> Doc:
    return {"org": text(org), "id": text(thread_id)}


def dt(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, UTC)


def us_of(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def standing_of(doc: Doc | None, at_us: int) -> tuple[Standing, ThreadRecord | None]:
    """What the id of a thread document is now, and its thread when the document holds one.

    A turn not yet committed (`pending`, see `gateway.store.mongo.pending`) is not part of it: the
    thread is as it was before that turn, and a thread that turn creates does not exist yet.
    """
    if doc is None:
        return standing(None, None, at_us), None
    if doc.get("tomb"):
        return standing(None, us_of(doc["gone_at"]), at_us), None
    pending = doc.get("pending")
    if pending is not None:
        if pending["before"] is None:
            return standing(None, None, at_us), None
        doc = {**doc, **pending["before"]}
    thread = thread_of(doc)
    return standing(thread, None, at_us), thread


def hidden_messages(doc: Doc | None) -> Doc:
    """A filter of the thread's messages that readers do not see yet: those of a turn not yet
    committed, or the one a deletion not yet committed takes away."""
    pending = None if doc is None else doc.get("pending")
    if pending is None:
        return {}
    if pending.get("mid") is not None:
        return {"id": {"$ne": pending["mid"]}}
    return {"response_id": {"$ne": pending["rid"]}}


def response_doc(r: ResponseRecord) -> Doc:
    return {
        "org": r.org,
        "id": r.id,
        "thread_id": r.thread_id,
        "expires_us": r.expires_us,
        "expires_at": dt(r.expires_us),
        "body": encode_response(r),
    }


def unavailable[**P, T](fn: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Driver failures (server down, timeouts) become 503 STORE_UNAVAILABLE."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except DuplicateKeyError:
            raise
        except PyMongoError as exc:
            raise StoreUnavailable("The thread store is unavailable.") from exc

    return wrapper


def is_conflict(exc: OperationFailure) -> bool:
    """A transaction aborted by a concurrent writer. The driver retries labelled ones itself for a
    while; a server that reports a failed commit with no code at all (mongoeco) is treated alike."""
    return exc.has_error_label("TransientTransactionError") or exc.code in _CONFLICT_CODES or exc.code is None


async def backoff(attempt: int) -> None:
    """Contention on one thread: a short random pause so that retries spread out."""
    await asyncio.sleep(random.uniform(0, min(0.002 * (attempt + 1), 0.05)))


async def ensure_indexes(
    threads: AsyncCollection[Doc],
    messages: AsyncCollection[Doc],
    responses: AsyncCollection[Doc],
    leases: AsyncCollection[Doc],
    idempotency: AsyncCollection[Doc],
    cancels: AsyncCollection[Doc],
    assistants: AsyncCollection[Doc],
) -> None:
    """The indexes that make the store's rules hold in the database itself (idempotent)."""
    await threads.create_index([("org", ASCENDING), ("id", ASCENDING)], unique=True)
    await threads.create_index(
        [
            ("org", ASCENDING),
            ("tomb", ASCENDING),
            ("visible", ASCENDING),
            ("activity_us", DESCENDING),
            ("id", DESCENDING),
        ]
    )
    await threads.create_index([("tomb", ASCENDING), ("expires_us", ASCENDING)])
    await threads.create_index("gone_at", expireAfterSeconds=0)
    await messages.create_index(
        [("org", ASCENDING), ("thread_id", ASCENDING), ("seq", ASCENDING)], unique=True
    )
    await messages.create_index([("org", ASCENDING), ("id", ASCENDING)], unique=True)
    await messages.create_index("gone_at", expireAfterSeconds=0)
    await responses.create_index([("org", ASCENDING), ("id", ASCENDING)], unique=True)
    await responses.create_index([("org", ASCENDING), ("thread_id", ASCENDING)])
    await responses.create_index("expires_at", expireAfterSeconds=0)
    await leases.create_index([("org", ASCENDING), ("id", ASCENDING)], unique=True)
    await leases.create_index("gone_at", expireAfterSeconds=0)
    await idempotency.create_index([("org", ASCENDING), ("key", ASCENDING)], unique=True)
    await idempotency.create_index("gone_at", expireAfterSeconds=0)
    await cancels.create_index([("org", ASCENDING), ("thread_id", ASCENDING)], unique=True)
    await cancels.create_index("gone_at", expireAfterSeconds=0)
    await assistants.create_index([("org", ASCENDING), ("id", ASCENDING)], unique=True)
    await assistants.create_index([("org", ASCENDING), ("created_us", DESCENDING), ("id", DESCENDING)])
    # An assistant's threads: its thread list, and the detach when it is deleted.
    await threads.create_index([("org", ASCENDING), ("assistant_id", ASCENDING), ("activity_us", DESCENDING)])
