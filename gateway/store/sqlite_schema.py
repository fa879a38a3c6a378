"""The SQLite store's schema and the mapping of its rows to records."""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec

from gateway.records import MessageRecord, ResponseRecord, ThreadRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    org TEXT NOT NULL, id TEXT NOT NULL, state TEXT NOT NULL, visible INTEGER NOT NULL,
    metadata BLOB NOT NULL, message_count INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
    created_us INTEGER NOT NULL, updated_us INTEGER NOT NULL, last_message_us INTEGER,
    activity_us INTEGER NOT NULL, expires_us INTEGER NOT NULL,
    PRIMARY KEY (org, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS threads_by_activity ON threads (org, visible, activity_us DESC, id DESC);
CREATE INDEX IF NOT EXISTS threads_by_expiry ON threads (expires_us);
CREATE TABLE IF NOT EXISTS messages (
    org TEXT NOT NULL, thread_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,
    role TEXT NOT NULL, texts BLOB NOT NULL, response_id TEXT, created_us INTEGER NOT NULL,
    PRIMARY KEY (org, thread_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_id ON messages (org, id);
CREATE INDEX IF NOT EXISTS messages_system ON messages (org, thread_id, seq) WHERE role = 'system';
CREATE TABLE IF NOT EXISTS responses (
    org TEXT NOT NULL, id TEXT NOT NULL, thread_id TEXT, expires_us INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (org, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS responses_by_thread ON responses (org, thread_id) WHERE thread_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS responses_by_expiry ON responses (expires_us);
CREATE TABLE IF NOT EXISTS tombstones (
    org TEXT NOT NULL, id TEXT NOT NULL, expires_us INTEGER NOT NULL,
    PRIMARY KEY (org, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tombstones_by_expiry ON tombstones (expires_us);
"""

_THREAD_COLS = (
    "org, id, state, visible, metadata, message_count, input_tokens, output_tokens, "
    "created_us, updated_us, last_message_us, activity_us, expires_us"
)
_MSG_COLS = "id, role, texts, response_id, created_us, thread_id, seq"

_json_encode = msgspec.json.Encoder().encode
_meta_decode = msgspec.json.Decoder(dict[str, Any]).decode
_texts_decode = msgspec.json.Decoder(tuple[str, ...]).decode
_resp_encode = msgspec.msgpack.Encoder().encode
_resp_decode = msgspec.msgpack.Decoder(ResponseRecord).decode


def _thread_row(t: ThreadRecord) -> tuple[Any, ...]:
    return (
        t.org,
        t.id,
        t.state,
        int(t.visible),
        _json_encode(t.metadata),
        t.message_count,
        t.input_tokens,
        t.output_tokens,
        t.created_us,
        t.updated_us,
        t.last_message_us,
        t.activity_us,
        t.expires_us,
    )


def _thread_of(row: sqlite3.Row | tuple[Any, ...]) -> ThreadRecord:
    return ThreadRecord(
        org=row[0],
        id=row[1],
        state=row[2],
        visible=bool(row[3]),
        metadata=_meta_decode(row[4]),
        message_count=row[5],
        input_tokens=row[6],
        output_tokens=row[7],
        created_us=row[8],
        updated_us=row[9],
        last_message_us=row[10],
        expires_us=row[12],
    )


def _message_of(row: tuple[Any, ...]) -> MessageRecord:
    return MessageRecord(
        id=row[0],
        role=row[1],
        texts=_texts_decode(row[2]),
        response_id=row[3],
        created_us=row[4],
        thread_id=row[5],
        seq=row[6],
    )
