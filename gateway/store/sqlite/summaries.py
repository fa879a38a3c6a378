"""Thread summaries in SQLite (`SummaryStore`): one row per thread in `summaries` (see `schema`),
deleted with the thread by `schema.remove_thread`. Every statement names the organization."""

from __future__ import annotations

import sqlite3

import msgspec

from gateway.core.records import SummaryRecord
from gateway.store.sqlite.engine import SqliteEngine

_FIELDS = tuple(f.name for f in msgspec.structs.fields(SummaryRecord))
_COLS = ", ".join(_FIELDS)


def _row(row: tuple[object, ...]) -> SummaryRecord:
    return msgspec.convert(dict(zip(_FIELDS, row, strict=True)), SummaryRecord)


class SqliteSummaries:
    """`SummaryStore` over the embedded database."""

    def __init__(self, engine: SqliteEngine) -> None:
        self._engine = engine

    async def get_summary(self, org: str, thread_id: str) -> SummaryRecord | None:
        row = await self._engine.read(
            lambda db: db.execute(
                f"SELECT {_COLS} FROM summaries WHERE org = ? AND thread_id = ?", (org, thread_id)
            ).fetchone()
        )
        return None if row is None else _row(row)

    async def put_summary(self, summary: SummaryRecord) -> bool:
        s = summary

        def op(db: sqlite3.Connection) -> bool:
            # The thread, in the summary's generation (a thread deleted meanwhile has no row).
            live = db.execute(
                "SELECT 1 FROM threads WHERE org = ? AND id = ? AND created_us = ?",
                (s.org, s.thread_id, s.thread_created_us),
            ).fetchone()
            if live is None:
                return False
            kept = db.execute(
                "SELECT thread_created_us, basis_us, covers_seq FROM summaries "
                "WHERE org = ? AND thread_id = ?",
                (s.org, s.thread_id),
            ).fetchone()
            # Over another life's summary, or an older one of this life.
            if (
                kept is not None
                and kept[0] == s.thread_created_us
                and (kept[1], kept[2]) >= (s.basis_us, s.covers_seq)
            ):
                return False
            db.execute(
                f"INSERT OR REPLACE INTO summaries ({_COLS}) VALUES ({', '.join('?' * len(_FIELDS))})",
                tuple(getattr(s, f) for f in _FIELDS),
            )
            return True

        return await self._engine.write(op)
