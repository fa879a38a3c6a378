"""MongoDB documents of the store: mapping records to documents and back, and the safety rules
every filter and every driver call goes through."""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import msgspec
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from gateway.errors import StoreUnavailable
from gateway.records import MessageRecord, ResponseRecord, ThreadRecord

Doc = dict[str, Any]
Session = AsyncClientSession | None
_CONFLICT_CODES = frozenset({112, 251})  # WriteConflict, NoSuchTransaction
_resp_encode = msgspec.msgpack.Encoder().encode
_resp_decode = msgspec.msgpack.Decoder(ResponseRecord).decode
_meta_decode = msgspec.json.Decoder(dict[str, Any]).decode
_THREAD_FIELDS = (
    "state",
    "visible",
    "metadata",
    "message_count",
    "input_tokens",
    "output_tokens",
    "created_us",
    "updated_us",
    "last_message_us",
    "activity_us",
    "expires_us",
)


def _s(value: str) -> str:
    """Every value put into a filter passes here: a string, never a client-supplied document."""
    if type(value) is not str:
        raise TypeError("filter values must be strings")
    return value


def _key(org: str, thread_id: str) -> Doc:
    return {"org": _s(org), "id": _s(thread_id)}


def _dt(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, UTC)


def _fields(t: ThreadRecord) -> Doc:
    # Metadata is stored as JSON text: client keys such as "$where" or "a.b" stay plain data.
    return {
        "state": t.state,
        "visible": t.visible,
        "metadata": msgspec.json.encode(t.metadata).decode(),
        "message_count": t.message_count,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "created_us": t.created_us,
        "updated_us": t.updated_us,
        "last_message_us": t.last_message_us,
        "activity_us": t.activity_us,
        "expires_us": t.expires_us,
    }


def _record(doc: Doc) -> ThreadRecord:
    return ThreadRecord(
        org=doc["org"],
        id=doc["id"],
        state=doc["state"],
        visible=doc["visible"],
        metadata=_meta_decode(doc["metadata"]),
        message_count=doc["message_count"],
        input_tokens=doc["input_tokens"],
        output_tokens=doc["output_tokens"],
        created_us=doc["created_us"],
        updated_us=doc["updated_us"],
        last_message_us=doc["last_message_us"],
        expires_us=doc["expires_us"],
    )


def _message(doc: Doc) -> MessageRecord:
    return MessageRecord(
        id=doc["id"],
        role=doc["role"],
        texts=tuple(doc["texts"]),
        response_id=doc["response_id"],
        created_us=doc["created_us"],
        thread_id=doc["thread_id"],
        seq=doc["seq"],
    )


def _unavailable[**P, T](fn: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
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


def _is_conflict(exc: OperationFailure) -> bool:
    """A transaction aborted by a concurrent writer. The driver retries labelled ones itself for a
    while; a server that reports a failed commit with no code at all (mongoeco) is treated alike."""
    return exc.has_error_label("TransientTransactionError") or exc.code in _CONFLICT_CODES or exc.code is None


async def _backoff(attempt: int) -> None:
    """Contention on one thread: a short random pause so that retries spread out."""
    await asyncio.sleep(random.uniform(0, min(0.002 * (attempt + 1), 0.05)))


async def ensure_indexes(
    threads: AsyncCollection[Doc], messages: AsyncCollection[Doc], responses: AsyncCollection[Doc]
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
