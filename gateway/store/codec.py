"""How records are written down, once for every backend and the response cache.

- A response record is msgpack (SQLite's `body` column, MongoDB's `body` field, the Redis value).
- Metadata is compact JSON text: in MongoDB, client keys such as `"$where"` or `"a.b"` stay plain
  data; in SQLite it is one column.
- Message texts are a JSON array (SQLite builds history reads from it without parsing it).
- A thread is a flat set of named fields (`THREAD_FIELDS`): SQLite's columns, MongoDB's document.
- So is an assistant (`ASSISTANT_FIELDS`), with `name_key`, the folded name that search matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from gateway.core.records import AssistantRecord, MessageRecord, ResponseRecord, ThreadRecord

Fields = Mapping[str, Any]

_response_encoder = msgspec.msgpack.Encoder()
_response_decoder = msgspec.msgpack.Decoder(ResponseRecord)
_json_encoder = msgspec.json.Encoder()
_metadata_decoder = msgspec.json.Decoder(dict[str, Any])
_texts_decoder = msgspec.json.Decoder(tuple[str, ...])

# The stored fields of a thread, in SQLite's column order. `activity_us` is derived (what lists sort
# by) and stored so that an index can hold it.
THREAD_FIELDS = (
    "org",
    "id",
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
    "title",
    "pinned_us",
    "last_model",
    "edited_us",
    "assistant_id",
    "user",
)
MESSAGE_FIELDS = ("id", "role", "texts", "response_id", "created_us", "thread_id", "seq", "metadata")


def encode_response(response: ResponseRecord) -> bytes:
    return _response_encoder.encode(response)


def decode_response(data: bytes) -> ResponseRecord:
    """Raise `msgspec.DecodeError` for bytes that are not a response of this version."""
    return _response_decoder.decode(data)


def encode_metadata(metadata: dict[str, Any]) -> str:
    return _json_encoder.encode(metadata).decode()


def decode_metadata(text: str | bytes) -> dict[str, Any]:
    return _metadata_decoder.decode(text)


def encode_texts(texts: tuple[str, ...]) -> bytes:
    return _json_encoder.encode(texts)


def decode_texts(data: str | bytes) -> tuple[str, ...]:
    return _texts_decoder.decode(data)


def thread_fields(t: ThreadRecord) -> dict[str, Any]:
    """The stored fields of a thread (`THREAD_FIELDS`), values as every backend stores them."""
    return {
        "org": t.org,
        "id": t.id,
        "state": t.state,
        "visible": t.visible,
        "metadata": encode_metadata(t.metadata),
        "message_count": t.message_count,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "created_us": t.created_us,
        "updated_us": t.updated_us,
        "last_message_us": t.last_message_us,
        "activity_us": t.activity_us,
        "expires_us": t.expires_us,
        "title": t.title,
        "pinned_us": t.pinned_us,
        "last_model": t.last_model,
        "edited_us": t.edited_us,
        "assistant_id": t.assistant_id,
        "user": t.user,
    }


def thread_of(f: Fields) -> ThreadRecord:
    return ThreadRecord(
        org=f["org"],
        id=f["id"],
        state=f["state"],
        visible=bool(f["visible"]),
        metadata=decode_metadata(f["metadata"]),
        message_count=f["message_count"],
        input_tokens=f["input_tokens"],
        output_tokens=f["output_tokens"],
        created_us=f["created_us"],
        updated_us=f["updated_us"],
        last_message_us=f["last_message_us"],
        expires_us=f["expires_us"],
        # Fields added later: absent from older rows and documents.
        title=f.get("title"),
        pinned_us=f.get("pinned_us"),
        last_model=f.get("last_model"),
        edited_us=f.get("edited_us"),
        assistant_id=f.get("assistant_id"),
        user=f.get("user"),
    )


def message_of(f: Fields) -> MessageRecord:
    """A message from its stored fields; `texts` as JSON text (SQLite) or a list (MongoDB)."""
    texts = f["texts"]
    metadata = f.get("metadata")
    return MessageRecord(
        id=f["id"],
        role=f["role"],
        texts=tuple(texts) if isinstance(texts, list) else decode_texts(texts),
        response_id=f["response_id"],
        created_us=f["created_us"],
        thread_id=f["thread_id"],
        seq=f["seq"],
        metadata=decode_metadata(metadata) if metadata else {},
    )


ASSISTANT_FIELDS = (
    "org",
    "id",
    "name",
    "name_key",
    "instructions",
    "model",
    "memory",
    "description",
    "metadata",
    "created_us",
    "updated_us",
)


def name_key(text: str) -> str:
    """A name (or a search term) as search compares it: case-folded, so `Ä` finds `ä` alike on
    every backend (SQLite's `lower` and MongoDB's `$regex` options fold ASCII only)."""
    return text.casefold()


def assistant_fields(a: AssistantRecord) -> dict[str, Any]:
    return {
        "org": a.org,
        "id": a.id,
        "name": a.name,
        "name_key": name_key(a.name),
        "instructions": a.instructions,
        "model": a.model,
        "memory": a.memory,
        "description": a.description,
        "metadata": encode_metadata(a.metadata),
        "created_us": a.created_us,
        "updated_us": a.updated_us,
    }


def assistant_of(f: Fields) -> AssistantRecord:
    return AssistantRecord(
        org=f["org"],
        id=f["id"],
        name=f["name"],
        instructions=f["instructions"],
        model=f["model"],
        memory=f["memory"],
        description=f["description"],
        metadata=decode_metadata(f["metadata"]),
        created_us=f["created_us"],
        updated_us=f["updated_us"],
    )
