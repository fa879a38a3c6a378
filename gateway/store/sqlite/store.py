"""The embedded store: SQLite in WAL mode, safe across several worker processes.

Statements run off the event loop (see `engine`: one writer thread with group commit, reader
threads). The aggregates are `threads` (threads, messages, turns), `responses`, `assistants`, `jobs`,
`memories` and `summaries`; retention spans threads and responses.
"""

from __future__ import annotations

import sqlite3

from gateway.core.rules import Limits
from gateway.store.protocols import PurgeReport
from gateway.store.sqlite.assistants import SqliteAssistants
from gateway.store.sqlite.cancels import SqliteCancels
from gateway.store.sqlite.engine import SqliteEngine
from gateway.store.sqlite.idempotency import SqliteIdempotency
from gateway.store.sqlite.jobs import JOBS_SCHEMA, SqliteJobs
from gateway.store.sqlite.keys import KEYS_SCHEMA, SqliteKeys
from gateway.store.sqlite.locks import FileLocks
from gateway.store.sqlite.memories import MEMORIES_SCHEMA, SqliteMemories
from gateway.store.sqlite.ratelimits import RATE_LIMITS_SCHEMA, SqliteRateLimits
from gateway.store.sqlite.responses import SqliteResponses
from gateway.store.sqlite.schema import SCHEMA, THREAD_COLS, migrate, remove_thread, row_thread
from gateway.store.sqlite.summaries import SqliteSummaries
from gateway.store.sqlite.threads import SqliteThreads
from gateway.store.sqlite.windows import Windows

_PURGE_BATCH = 500


class SqliteStore:
    """The embedded default store, a file under `data_dir`."""

    name = "sqlite"

    def __init__(
        self,
        path: str,
        limits: Limits,
        *,
        busy_timeout_s: float = 10.0,
        synchronous: str = "FULL",
        history_cache_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self._limits = limits
        self._engine = SqliteEngine(path, busy_timeout_ms=int(busy_timeout_s * 1000), synchronous=synchronous)
        self._threads = SqliteThreads(self._engine, limits, Windows(history_cache_bytes))
        self._responses = SqliteResponses(self._engine)
        self._assistants = SqliteAssistants(self._engine)
        self._locks = FileLocks(path + ".locks")
        self._idempotency = SqliteIdempotency(self._engine)
        self._cancels = SqliteCancels(self._engine)
        self._jobs = SqliteJobs(self._engine)
        self._memories = SqliteMemories(self._engine)
        self._summaries = SqliteSummaries(self._engine)
        self._keys = SqliteKeys(self._engine)
        self._rate_limits = SqliteRateLimits(self._engine)

    @property
    def keys(self) -> SqliteKeys:
        return self._keys

    @property
    def rate_limits(self) -> SqliteRateLimits:
        return self._rate_limits

    @property
    def threads(self) -> SqliteThreads:
        return self._threads

    @property
    def responses(self) -> SqliteResponses:
        return self._responses

    @property
    def assistants(self) -> SqliteAssistants:
        return self._assistants

    @property
    def turn_locks(self) -> FileLocks:
        return self._locks

    @property
    def cancels(self) -> SqliteCancels:
        return self._cancels

    @property
    def idempotency(self) -> SqliteIdempotency:
        return self._idempotency

    @property
    def jobs(self) -> SqliteJobs:
        return self._jobs

    @property
    def memories(self) -> SqliteMemories:
        return self._memories

    @property
    def summaries(self) -> SqliteSummaries:
        return self._summaries

    async def open(self) -> None:
        await self._engine.open(
            SCHEMA + JOBS_SCHEMA + MEMORIES_SCHEMA + KEYS_SCHEMA + RATE_LIMITS_SCHEMA, migrate
        )
        self._locks.open()

    async def close(self) -> None:
        self._locks.close()
        await self._engine.close()

    async def ping(self) -> None:
        await self._engine.read(lambda db: db.execute("SELECT 1").fetchone())

    async def purge_expired(self, at_us: int) -> PurgeReport:
        threads = responses = 0
        response_ids: list[tuple[str, str]] = []
        # Batches keep each write transaction short, so turns are not held up behind a purge.
        while True:

            def batch(db: sqlite3.Connection) -> int:
                rows = db.execute(
                    f"SELECT {THREAD_COLS} FROM threads WHERE expires_us <= ? LIMIT ?", (at_us, _PURGE_BATCH)
                ).fetchall()
                for row in rows:
                    thread = row_thread(row)
                    response_ids.extend((thread.org, rid) for rid in remove_thread(db, thread, self._limits))
                return len(rows)

            n = await self._engine.write(batch)
            threads += n
            if n < _PURGE_BATCH:
                break
        while True:

            def resp_batch(db: sqlite3.Connection) -> int:
                rows = db.execute(
                    "SELECT org, id FROM responses WHERE expires_us <= ? LIMIT ?", (at_us, _PURGE_BATCH)
                ).fetchall()
                db.executemany("DELETE FROM responses WHERE org = ? AND id = ?", rows)
                response_ids.extend((r[0], r[1]) for r in rows)
                return len(rows)

            n = await self._engine.write(resp_batch)
            responses += n
            if n < _PURGE_BATCH:
                break
        tombstones = await self._engine.write(
            lambda db: db.execute("DELETE FROM tombstones WHERE expires_us <= ?", (at_us,)).rowcount
        )
        await self._engine.write(
            lambda db: db.execute("DELETE FROM idempotency WHERE expires_us <= ?", (at_us,))
        )
        await self._jobs.purge(at_us)
        return PurgeReport(
            threads=threads, responses=responses, tombstones=tombstones, response_ids=tuple(response_ids)
        )
