"""Assistants in SQLite: one row each, unique by (organization, id); every statement names the
organization."""

from __future__ import annotations

import sqlite3
from typing import Any

from gateway.core.records import AssistantRecord, Page
from gateway.errors import AssistantAlreadyExists, AssistantNotFound
from gateway.store.codec import ASSISTANT_FIELDS, assistant_fields, assistant_of, name_key
from gateway.store.lifecycle import page
from gateway.store.protocols import AssistantUpdate
from gateway.store.sqlite.engine import SqliteEngine
from gateway.store.sqlite.memories import delete_scope

_COLS = ", ".join(ASSISTANT_FIELDS)
_INSERT = f"INSERT INTO assistants ({_COLS}) VALUES ({', '.join(':' + f for f in ASSISTANT_FIELDS)})"
_UPDATE = (
    "UPDATE assistants SET "
    + ", ".join(f"{f} = :{f}" for f in ASSISTANT_FIELDS if f not in ("org", "id"))
    + " WHERE org = :org AND id = :id"
)


def _row(row: tuple[object, ...]) -> AssistantRecord:
    return assistant_of(dict(zip(ASSISTANT_FIELDS, row, strict=True)))


def _load(db: sqlite3.Connection, org: str, assistant_id: str) -> AssistantRecord | None:
    row = db.execute(
        f"SELECT {_COLS} FROM assistants WHERE org = ? AND id = ?", (org, assistant_id)
    ).fetchone()
    return None if row is None else _row(row)


def _like(term: str) -> str:
    """A LIKE pattern matching `term` anywhere, its own `%`, `_` and `\\` taken literally."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SqliteAssistants:
    """`AssistantStore` over the embedded database."""

    def __init__(self, engine: SqliteEngine) -> None:
        self._engine = engine

    async def create_assistant(self, assistant: AssistantRecord) -> AssistantRecord:
        def op(db: sqlite3.Connection) -> AssistantRecord:
            try:
                db.execute(_INSERT, assistant_fields(assistant))
            except sqlite3.IntegrityError:
                raise AssistantAlreadyExists(assistant.id) from None
            return assistant

        return await self._engine.write(op)

    async def get_assistant(self, org: str, assistant_id: str) -> AssistantRecord | None:
        # One row by its key, read on the loop (every turn of an assistant's thread reads it).
        return await self._engine.point_read(lambda db: _load(db, org, assistant_id))

    async def list_assistants(
        self, org: str, *, limit: int, offset: int, search: str | None
    ) -> Page[AssistantRecord]:
        def op(db: sqlite3.Connection) -> Page[AssistantRecord]:
            where, args = "org = ?", [org]
            if search:
                # LIKE folds ASCII only, but `name_key` and the term are both case-folded already.
                where += " AND name_key LIKE ? ESCAPE '\\'"
                args.append(_like(name_key(search)))
            (total,) = db.execute(f"SELECT count(*) FROM assistants WHERE {where}", args).fetchone()
            rows = db.execute(
                f"SELECT {_COLS} FROM assistants WHERE {where} "
                "ORDER BY created_us DESC, id DESC LIMIT ? OFFSET ?",
                [*args, limit + 1, offset],
            ).fetchall()
            return page([_row(r) for r in rows], limit, total=int(total))

        return await self._engine.read(op)

    async def update_assistant(
        self, org: str, assistant_id: str, update: AssistantUpdate, at_us: int
    ) -> AssistantRecord:
        def op(db: sqlite3.Connection) -> AssistantRecord:
            found = _load(db, org, assistant_id)
            if found is None:
                raise AssistantNotFound(assistant_id)
            changed = update(found)
            if changed is not found:
                db.execute(_UPDATE, assistant_fields(changed))
            return changed

        return await self._engine.write(op)

    async def delete_assistant(self, org: str, assistant_id: str, at_us: int) -> int | None:
        def op(db: sqlite3.Connection) -> int | None:
            gone = db.execute("DELETE FROM assistants WHERE org = ? AND id = ?", (org, assistant_id))
            if gone.rowcount == 0:
                return None
            # In the same transaction: its memories go, its threads stay, detached.
            delete_scope(db, org, assistant_id)
            key: tuple[Any, ...] = (org, assistant_id)
            detached = db.execute(
                "UPDATE threads SET assistant_id = NULL WHERE org = ? AND assistant_id = ?", key
            )
            return int(detached.rowcount)

        return await self._engine.write(op)
