"""The SQLite store's schema and the row-level statements its parts share."""

from __future__ import annotations

import sqlite3

from gateway.core.records import ResponseRecord, ThreadRecord
from gateway.core.rules import Limits, tombstone_expires_us
from gateway.store.codec import MESSAGE_FIELDS, THREAD_FIELDS, encode_response, thread_fields, thread_of
from gateway.store.lifecycle import Standing, standing

SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    org TEXT NOT NULL, id TEXT NOT NULL, state TEXT NOT NULL, visible INTEGER NOT NULL,
    metadata BLOB NOT NULL, message_count INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
    created_us INTEGER NOT NULL, updated_us INTEGER NOT NULL, last_message_us INTEGER,
    activity_us INTEGER NOT NULL, expires_us INTEGER NOT NULL,
    title TEXT, pinned_us INTEGER, last_model TEXT, edited_us INTEGER, next_seq INTEGER NOT NULL DEFAULT 0,
    edits INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS threads_by_activity ON threads (org, visible, activity_us DESC, id DESC);
CREATE INDEX IF NOT EXISTS threads_by_expiry ON threads (expires_us);
CREATE TABLE IF NOT EXISTS messages (
    org TEXT NOT NULL, thread_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,
    role TEXT NOT NULL, texts BLOB NOT NULL, response_id TEXT, created_us INTEGER NOT NULL, metadata BLOB,
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
CREATE TABLE IF NOT EXISTS idempotency (
    org TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, token INTEGER NOT NULL,
    held_until_us INTEGER NOT NULL, answer BLOB, expires_us INTEGER NOT NULL,
    PRIMARY KEY (org, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_by_expiry ON idempotency (expires_us);
CREATE TABLE IF NOT EXISTS assistants (
    org TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, name_key TEXT NOT NULL,
    instructions TEXT, model TEXT, memory TEXT NOT NULL, description TEXT, metadata BLOB NOT NULL,
    created_us INTEGER NOT NULL, updated_us INTEGER NOT NULL,
    PRIMARY KEY (org, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS assistants_by_creation ON assistants (org, created_us DESC, id DESC);
CREATE TABLE IF NOT EXISTS summaries (
    org TEXT NOT NULL, thread_id TEXT NOT NULL, thread_created_us INTEGER NOT NULL,
    basis_us INTEGER NOT NULL, covers_seq INTEGER NOT NULL, text TEXT NOT NULL, model TEXT NOT NULL,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (org, thread_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cancels (
    org TEXT NOT NULL, thread_id TEXT NOT NULL, requested_us INTEGER NOT NULL, outcome BLOB,
    expires_us INTEGER NOT NULL,
    PRIMARY KEY (org, thread_id)
) WITHOUT ROWID;
"""

THREAD_COLS = ", ".join(THREAD_FIELDS)
MSG_COLS = ", ".join(MESSAGE_FIELDS)
_THREAD_PARAMS = ", ".join(":" + f for f in THREAD_FIELDS)
_INSERT_THREAD_SEQ = f"INSERT INTO threads ({THREAD_COLS}, next_seq) VALUES ({_THREAD_PARAMS}, :next_seq)"
_UPDATE_THREAD = (
    "UPDATE threads SET "
    + ", ".join(f"{f} = :{f}" for f in THREAD_FIELDS if f not in ("org", "id"))
    + ", next_seq = next_seq + :adding WHERE org = :org AND id = :id RETURNING next_seq"
)
# Columns added after the first version: (table, column, declaration).
_ADDED = (
    ("threads", "title", "TEXT"),
    ("threads", "pinned_us", "INTEGER"),
    ("threads", "last_model", "TEXT"),
    ("threads", "edited_us", "INTEGER"),
    ("threads", "next_seq", "INTEGER NOT NULL DEFAULT 0"),
    ("messages", "metadata", "BLOB"),
    ("threads", "assistant_id", "TEXT"),
    ("threads", "user", "TEXT"),
    ("threads", "edits", "INTEGER NOT NULL DEFAULT 0"),
)
# Indexes on columns added later: made once the columns exist.
_ADDED_INDEXES = (
    "CREATE INDEX IF NOT EXISTS threads_by_assistant ON threads "
    "(org, assistant_id, activity_us DESC, id DESC) WHERE assistant_id IS NOT NULL",
)


def migrate(db: sqlite3.Connection) -> None:
    """Bring a file of an earlier version up to this schema (inside the schema's transaction)."""
    for table, column, declaration in _ADDED:
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in columns:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            if column == "next_seq":
                # Until now no message was ever removed, so the count was the last sequence number.
                db.execute("UPDATE threads SET next_seq = message_count")
    for statement in _ADDED_INDEXES:
        db.execute(statement)


def row_thread(row: tuple[object, ...]) -> ThreadRecord:
    """A thread from a row of `SELECT {THREAD_COLS}`."""
    return thread_of(dict(zip(THREAD_FIELDS, row, strict=True)))


def load_thread(db: sqlite3.Connection, org: str, thread_id: str) -> ThreadRecord | None:
    row = db.execute(
        f"SELECT {THREAD_COLS} FROM threads WHERE org = ? AND id = ?", (org, thread_id)
    ).fetchone()
    return None if row is None else row_thread(row)


def tomb_until(db: sqlite3.Connection, org: str, thread_id: str) -> int | None:
    row = db.execute(
        "SELECT expires_us FROM tombstones WHERE org = ? AND id = ?", (org, thread_id)
    ).fetchone()
    return None if row is None else int(row[0])


def standing_of(
    db: sqlite3.Connection, org: str, thread_id: str, at_us: int
) -> tuple[Standing, ThreadRecord | None]:
    """What the id is now, and its thread when one is stored."""
    thread = load_thread(db, org, thread_id)
    tomb = None if thread is not None else tomb_until(db, org, thread_id)
    return standing(thread, tomb, at_us), thread


def count_edit(db: sqlite3.Connection, org: str, thread_id: str) -> None:
    """A message of the thread was edited or deleted: what processes keep of its history is stale
    (gateway.store.sqlite.windows)."""
    db.execute("UPDATE threads SET edits = edits + 1 WHERE org = ? AND id = ?", (org, thread_id))


def insert_thread(db: sqlite3.Connection, t: ThreadRecord, next_seq: int = 0) -> None:
    """A new thread whose messages so far have the sequence numbers 1 to `next_seq`."""
    db.execute(_INSERT_THREAD_SEQ, {**thread_fields(t), "next_seq": next_seq})


def save_thread(db: sqlite3.Connection, t: ThreadRecord, adding: int = 0) -> int:
    """Write the thread's fields, reserving `adding` sequence numbers; the last one reserved."""
    (next_seq,) = db.execute(_UPDATE_THREAD, {**thread_fields(t), "adding": adding}).fetchone()
    return int(next_seq)


def remove_thread(db: sqlite3.Connection, thread: ThreadRecord, limits: Limits) -> list[str]:
    """Delete a thread with its messages, responses and summary and leave its tombstone; the response ids."""
    key = (thread.org, thread.id)
    response_ids = [r[0] for r in db.execute("SELECT id FROM responses WHERE org = ? AND thread_id = ?", key)]
    db.execute("DELETE FROM messages WHERE org = ? AND thread_id = ?", key)
    db.execute("DELETE FROM responses WHERE org = ? AND thread_id = ?", key)
    db.execute("DELETE FROM summaries WHERE org = ? AND thread_id = ?", key)
    db.execute("DELETE FROM threads WHERE org = ? AND id = ?", key)
    db.execute(
        "INSERT OR REPLACE INTO tombstones (org, id, expires_us) VALUES (?, ?, ?)",
        (*key, tombstone_expires_us(thread, limits)),
    )
    return response_ids


def insert_response(db: sqlite3.Connection, r: ResponseRecord) -> None:
    db.execute(
        "INSERT INTO responses (org, id, thread_id, expires_us, body) VALUES (?, ?, ?, ?, ?)",
        (r.org, r.id, r.thread_id, r.expires_us, encode_response(r)),
    )
