"""Memories in SQLite (`MemoryStore`): one row each in `memories`, unique by (organization,
assistant, id), and one row per assistant in `memory_scopes` holding its version, moved on by every
write in the same transaction. Every statement names the organization."""

from __future__ import annotations

import sqlite3

import msgspec

from gateway.core.memory_records import MemoryChange, MemoryRecord, ScopeVectors
from gateway.core.records import Page
from gateway.store.lifecycle import page
from gateway.store.sqlite.engine import SqliteEngine

MEMORIES_SCHEMA = """
CREATE TABLE IF NOT EXISTS memories (
    org TEXT NOT NULL, assistant_id TEXT NOT NULL, id TEXT NOT NULL, user TEXT, text TEXT NOT NULL,
    embedding BLOB NOT NULL, metadata BLOB NOT NULL, created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS memories_by_id ON memories (org, assistant_id, id);
CREATE INDEX IF NOT EXISTS memories_by_time ON memories (org, assistant_id, created_us, id);
CREATE TABLE IF NOT EXISTS memory_scopes (
    org TEXT NOT NULL, assistant_id TEXT NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (org, assistant_id)
) WITHOUT ROWID;
"""

_FIELDS = ("org", "assistant_id", "id", "user", "text", "embedding", "metadata", "created_us", "updated_us")
_COLS = ", ".join(_FIELDS)
_encode = msgspec.json.encode
_decode = msgspec.json.decode


def _row(row: tuple[object, ...]) -> MemoryRecord:
    values = dict(zip(_FIELDS, row, strict=True))
    raw = values["metadata"]
    assert isinstance(raw, bytes)
    values["metadata"] = _decode(raw)
    return msgspec.convert(values, MemoryRecord)


def _load(db: sqlite3.Connection, org: str, assistant_id: str, memory_id: str) -> MemoryRecord | None:
    row = db.execute(
        f"SELECT {_COLS} FROM memories WHERE org = ? AND assistant_id = ? AND id = ?",
        (org, assistant_id, memory_id),
    ).fetchone()
    return None if row is None else _row(row)


def bump_scope(db: sqlite3.Connection, org: str, assistant_id: str) -> None:
    db.execute(
        "INSERT INTO memory_scopes (org, assistant_id, version) VALUES (?, ?, 1) "
        "ON CONFLICT (org, assistant_id) DO UPDATE SET version = version + 1",
        (org, assistant_id),
    )


def delete_scope(db: sqlite3.Connection, org: str, assistant_id: str) -> None:
    """An assistant's memories removed (inside its deletion's transaction)."""
    db.execute("DELETE FROM memories WHERE org = ? AND assistant_id = ?", (org, assistant_id))
    # The version goes on (not away): a process's index of the scope must not look current again.
    bump_scope(db, org, assistant_id)


class SqliteMemories:
    """`MemoryStore` over the embedded database."""

    def __init__(self, engine: SqliteEngine) -> None:
        self._engine = engine

    async def add_memory(self, memory: MemoryRecord) -> MemoryRecord:
        m = memory

        def op(db: sqlite3.Connection) -> MemoryRecord:
            db.execute(
                f"INSERT INTO memories ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    m.org,
                    m.assistant_id,
                    m.id,
                    m.user,
                    m.text,
                    m.embedding,
                    _encode(m.metadata),
                    m.created_us,
                    m.updated_us,
                ),
            )
            bump_scope(db, m.org, m.assistant_id)
            return m

        return await self._engine.write(op)

    async def get_memory(self, org: str, assistant_id: str, memory_id: str) -> MemoryRecord | None:
        # One row by its key (a turn reads those it retrieved): on the loop.
        return await self._engine.point_read(lambda db: _load(db, org, assistant_id, memory_id))

    async def update_memory(
        self, org: str, assistant_id: str, memory_id: str, change: MemoryChange
    ) -> MemoryRecord | None:
        def op(db: sqlite3.Connection) -> MemoryRecord | None:
            found = _load(db, org, assistant_id, memory_id)
            if found is None:
                return None
            after = msgspec.structs.replace(
                found,
                text=change.text,
                embedding=change.embedding,
                metadata=found.metadata if change.metadata is None else change.metadata,
                updated_us=change.at_us,
            )
            db.execute(
                "UPDATE memories SET text = ?, embedding = ?, metadata = ?, updated_us = ? "
                "WHERE org = ? AND assistant_id = ? AND id = ?",
                (
                    after.text,
                    after.embedding,
                    _encode(after.metadata),
                    after.updated_us,
                    org,
                    assistant_id,
                    memory_id,
                ),
            )
            bump_scope(db, org, assistant_id)
            return after

        return await self._engine.write(op)

    async def delete_memory(self, org: str, assistant_id: str, memory_id: str) -> bool:
        def op(db: sqlite3.Connection) -> bool:
            gone = db.execute(
                "DELETE FROM memories WHERE org = ? AND assistant_id = ? AND id = ?",
                (org, assistant_id, memory_id),
            )
            if gone.rowcount == 0:
                return False
            bump_scope(db, org, assistant_id)
            return True

        return await self._engine.write(op)

    async def list_memories(
        self, org: str, assistant_id: str, *, user: str | None, limit: int, offset: int
    ) -> Page[MemoryRecord]:
        def op(db: sqlite3.Connection) -> Page[MemoryRecord]:
            where, args = "org = ? AND assistant_id = ?", [org, assistant_id]
            if user is not None:
                where += " AND (user IS NULL OR user = ?)"
                args.append(user)
            (total,) = db.execute(f"SELECT count(*) FROM memories WHERE {where}", args).fetchone()
            rows = db.execute(
                f"SELECT {_COLS} FROM memories WHERE {where} "
                "ORDER BY created_us DESC, id DESC LIMIT ? OFFSET ?",
                [*args, limit + 1, offset],
            ).fetchall()
            return page([_row(r) for r in rows], limit, total=int(total))

        return await self._engine.read(op)

    async def scope_version(self, org: str, assistant_id: str) -> int:
        return await self._engine.point_read(lambda db: _version(db, org, assistant_id))

    async def scope_vectors(self, org: str, assistant_id: str) -> ScopeVectors:
        def op(db: sqlite3.Connection) -> ScopeVectors:
            # One read transaction: the version and the rows agree.
            db.execute("BEGIN")
            try:
                version = _version(db, org, assistant_id)
                rows = db.execute(
                    "SELECT id, user, embedding FROM memories WHERE org = ? AND assistant_id = ?",
                    (org, assistant_id),
                ).fetchall()
            finally:
                db.execute("COMMIT")
            return ScopeVectors(
                version=version,
                ids=[r[0] for r in rows],
                users=[r[1] for r in rows],
                embeddings=[r[2] for r in rows],
            )

        return await self._engine.read(op)


def _version(db: sqlite3.Connection, org: str, assistant_id: str) -> int:
    row = db.execute(
        "SELECT version FROM memory_scopes WHERE org = ? AND assistant_id = ?", (org, assistant_id)
    ).fetchone()
    return 0 if row is None else int(row[0])
