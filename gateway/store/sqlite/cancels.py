"""Cancels of running streams between the embedded store's worker processes (`CancelStore`)."""

from __future__ import annotations

import sqlite3

from gateway.store.sqlite.engine import SqliteEngine

# A request or answer nobody reads again (the stream or the cancel gone) is purged after this.
KEEP_US = 600_000_000


class SqliteCancels:
    def __init__(self, engine: SqliteEngine) -> None:
        self._engine = engine

    async def request_cancel(self, org: str, thread_id: str, at_us: int) -> None:
        await self._engine.write(
            lambda db: db.execute(
                "INSERT OR REPLACE INTO cancels (org, thread_id, requested_us, outcome, expires_us) "
                "VALUES (?, ?, ?, NULL, ?)",
                (org, thread_id, at_us, at_us + KEEP_US),
            )
        )

    async def cancel_requested(self, org: str, thread_id: str, since_us: int) -> int | None:
        def op(db: sqlite3.Connection) -> int | None:
            row = db.execute(
                "SELECT requested_us FROM cancels WHERE org = ? AND thread_id = ? AND requested_us >= ? "
                "AND outcome IS NULL",
                (org, thread_id, since_us),
            ).fetchone()
            return None if row is None else int(row[0])

        return await self._engine.read(op)

    async def answer_cancel(self, org: str, thread_id: str, requested_us: int, outcome: bytes) -> None:
        await self._engine.write(
            lambda db: db.execute(
                "UPDATE cancels SET outcome = ? WHERE org = ? AND thread_id = ? AND requested_us = ?",
                (outcome, org, thread_id, requested_us),
            )
        )

    async def cancel_answer(self, org: str, thread_id: str, requested_us: int) -> bytes | None:
        def op(db: sqlite3.Connection) -> bytes | None:
            row = db.execute(
                "SELECT outcome FROM cancels WHERE org = ? AND thread_id = ? AND requested_us = ?",
                (org, thread_id, requested_us),
            ).fetchone()
            return None if row is None or row[0] is None else bytes(row[0])

        return await self._engine.read(op)
