"""Rate-limit counters of the embedded store (`gateway.ratelimit.Counters`): one row per key digest
and minute, shared by every worker through the database file. Each count is one statement in the
writer's next batch (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`: atomic across processes under
SQLite's write lock); the rows of minutes past are deleted as a new minute starts."""

from __future__ import annotations

import sqlite3

from gateway.ratelimit import KEEP_S, WINDOW_S
from gateway.store.sqlite.engine import SqliteEngine

RATE_LIMITS_SCHEMA = """
CREATE TABLE IF NOT EXISTS rate_limits (
    ident TEXT NOT NULL, window INTEGER NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0, tokens INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (ident, window)
) WITHOUT ROWID;
"""

_KEEP_WINDOWS = KEEP_S // WINDOW_S


class SqliteRateLimits:
    name = "sqlite"

    def __init__(self, engine: SqliteEngine) -> None:
        self._engine = engine
        self._purged = -1  # the last window this process purged before

    def _purge(self, db: sqlite3.Connection, window: int) -> None:
        if window > self._purged:
            self._purged = window
            db.execute("DELETE FROM rate_limits WHERE window <= ?", (window - _KEEP_WINDOWS,))

    async def hit(self, ident: str, window: int, requests: int) -> tuple[int, int]:
        def op(db: sqlite3.Connection) -> tuple[int, int]:
            self._purge(db, window)
            row = db.execute(
                "INSERT INTO rate_limits (ident, window, requests) VALUES (?, ?, ?) "
                "ON CONFLICT (ident, window) DO UPDATE SET requests = requests + excluded.requests "
                "RETURNING requests, tokens",
                (ident, window, requests),
            ).fetchone()
            return int(row[0]), int(row[1])

        return await self._engine.write(op)

    async def spend(self, ident: str, window: int, tokens: int) -> None:
        await self._engine.write(
            lambda db: db.execute(
                "INSERT INTO rate_limits (ident, window, tokens) VALUES (?, ?, ?) "
                "ON CONFLICT (ident, window) DO UPDATE SET tokens = tokens + excluded.tokens",
                (ident, window, tokens),
            )
        )
