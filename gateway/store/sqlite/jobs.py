"""The job queue in SQLite (`JobStore`): one row per job in `jobs`.

Claims are writes, so they run on the engine's one writer inside `BEGIN IMMEDIATE`: within a
process one after the other, across processes under SQLite's file lock. No two claims can see the
same due row. A claim is acknowledged only after its commit, so a job is never run on a lease that
was not recorded.

`JOBS_SCHEMA` is applied with the store's own schema when the database opens (in the same
transaction), which also brings a file of an earlier version, which has no `jobs` table, up to date.
`insert_job` is the outbox step: called inside another write (a turn's), the job commits or rolls
back with it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import msgspec

from gateway.store.jobs import (
    JOB_FIELDS,
    LEASE_EXPIRED,
    Backlog,
    Claim,
    Job,
    JobStatus,
    NewJob,
    RetryPolicy,
    after_failure,
    checked_result,
    claim_limit,
    error_text,
    lease_us,
    new_job,
)
from gateway.store.sqlite.engine import SqliteEngine

JOBS_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT NOT NULL PRIMARY KEY, org TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
    payload BLOB NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL, max_attempts INTEGER NOT NULL,
    created_us INTEGER NOT NULL, updated_us INTEGER NOT NULL, result BLOB, error TEXT,
    token INTEGER NOT NULL, worker TEXT, due_us INTEGER, expires_us INTEGER
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS jobs_by_key ON jobs (org, kind, key);
CREATE INDEX IF NOT EXISTS jobs_by_due ON jobs (due_us) WHERE due_us IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_by_expiry ON jobs (expires_us) WHERE expires_us IS NOT NULL;
"""

_COLS = ", ".join(JOB_FIELDS)
_HELD = "id = ? AND token = ? AND status = 'IN_PROGRESS'"


def _job(row: Sequence[object]) -> Job:
    return msgspec.convert(dict(zip(JOB_FIELDS, row, strict=True)), Job)


def insert_job(db: sqlite3.Connection, job: NewJob) -> str:
    """Enqueue inside the caller's write: the job's id, or the id of the job its key already has."""
    db.execute(
        "INSERT INTO jobs (id, org, kind, key, payload, status, attempts, max_attempts, created_us, "
        "updated_us, token, due_us) VALUES (?, ?, ?, ?, ?, 'PENDING', 0, ?, ?, ?, 0, ?) "
        "ON CONFLICT (org, kind, key) DO NOTHING",
        (job.id, job.org, job.kind, job.key, job.payload, job.max_attempts, job.at_us, job.at_us, job.at_us),
    )
    (job_id,) = db.execute(
        "SELECT id FROM jobs WHERE org = ? AND kind = ? AND key = ?", (job.org, job.kind, job.key)
    ).fetchone()
    return str(job_id)


def _claim(
    db: sqlite3.Connection,
    worker: str,
    kinds: Sequence[str],
    until_us: int,
    limit: int,
    at_us: int,
    keep_us: int,
) -> list[Claim]:
    marks = ", ".join("?" for _ in kinds)
    # Leases that ran out on the last attempt: the job is over (see `gateway.store.jobs`).
    db.execute(
        "UPDATE jobs SET status = 'FAILED', error = ?, due_us = NULL, worker = NULL, updated_us = ?, "
        f"expires_us = ? WHERE due_us <= ? AND status = 'IN_PROGRESS' AND attempts >= max_attempts "
        f"AND kind IN ({marks})",
        (LEASE_EXPIRED, at_us, at_us + keep_us, at_us, *kinds),
    )
    rows = db.execute(
        "UPDATE jobs SET status = 'IN_PROGRESS', attempts = attempts + 1, token = token + 1, worker = ?, "
        "due_us = ?, updated_us = ? WHERE id IN (SELECT id FROM jobs WHERE due_us <= ? "
        f"AND attempts < max_attempts AND kind IN ({marks}) ORDER BY due_us LIMIT ?) "
        f"RETURNING {_COLS}, token, due_us",
        (worker, until_us, at_us, at_us, *kinds, limit),
    ).fetchall()
    claims = [Claim(job=_job(row[:-2]), token=int(row[-2]), lease_until_us=int(row[-1])) for row in rows]
    # RETURNING gives no order; hand them out oldest first (by creation: they were all due).
    claims.sort(key=lambda c: (c.job.created_us, c.job.id))
    return claims


class SqliteJobs:
    """`JobStore` over the embedded database."""

    def __init__(self, engine: SqliteEngine, policy: RetryPolicy | None = None) -> None:
        self._engine = engine
        self._policy = policy or RetryPolicy()

    async def enqueue(
        self,
        org: str,
        kind: str,
        key: str,
        payload: bytes,
        *,
        at_us: int,
        max_attempts: int | None = None,
    ) -> str:
        job = new_job(org, kind, key, payload, at_us=at_us, policy=self._policy, max_attempts=max_attempts)
        return await self._engine.write(lambda db: insert_job(db, job))

    async def claim(
        self, worker: str, *, kinds: Sequence[str], lease_s: float, limit: int, at_us: int
    ) -> list[Claim]:
        n = claim_limit(limit)
        if not kinds or n == 0:
            return []
        until, keep, wanted = at_us + lease_us(lease_s), self._policy.keep_us, tuple(kinds)
        return await self._engine.write(lambda db: _claim(db, worker, wanted, until, n, at_us, keep))

    async def renew(self, job_id: str, token: int, *, lease_s: float, at_us: int) -> bool:
        until = at_us + lease_us(lease_s)
        return await self._changed(
            f"UPDATE jobs SET due_us = ?, updated_us = ? WHERE {_HELD}", (until, at_us, job_id, token)
        )

    async def complete(self, job_id: str, token: int, result: bytes, *, at_us: int) -> bool:
        expires = at_us + self._policy.keep_us
        return await self._changed(
            "UPDATE jobs SET status = 'COMPLETED', result = ?, due_us = NULL, worker = NULL, updated_us = ?, "
            f"expires_us = ? WHERE {_HELD}",
            (checked_result(result), at_us, expires, job_id, token),
        )

    async def fail(
        self, job_id: str, token: int, error: str, *, at_us: int, final: bool = False
    ) -> JobStatus | None:
        def op(db: sqlite3.Connection) -> JobStatus | None:
            row = db.execute(
                f"SELECT attempts, max_attempts FROM jobs WHERE {_HELD}", (job_id, token)
            ).fetchone()
            if row is None:
                return None
            step = after_failure(self._policy, attempts=row[0], max_attempts=row[1], final=final, at_us=at_us)
            db.execute(
                "UPDATE jobs SET status = ?, error = ?, due_us = ?, expires_us = ?, worker = NULL, "
                "updated_us = ? WHERE id = ?",
                (step.status, error_text(error), step.due_us, step.expires_us, at_us, job_id),
            )
            return step.status

        return await self._engine.write(op)

    async def release(self, job_id: str, token: int, *, at_us: int) -> bool:
        return await self._changed(
            "UPDATE jobs SET status = 'PENDING', attempts = attempts - 1, due_us = ?, worker = NULL, "
            f"updated_us = ? WHERE {_HELD}",
            (at_us, at_us, job_id, token),
        )

    async def get(self, org: str, job_id: str) -> Job | None:
        def op(db: sqlite3.Connection) -> Job | None:
            row = db.execute(f"SELECT {_COLS} FROM jobs WHERE org = ? AND id = ?", (org, job_id)).fetchone()
            return None if row is None else _job(row)

        return await self._engine.read(op)

    async def purge(self, at_us: int) -> int:
        return await self._engine.write(
            lambda db: db.execute("DELETE FROM jobs WHERE expires_us <= ?", (at_us,)).rowcount
        )

    async def backlog(self, kinds: Sequence[str]) -> dict[str, Backlog]:
        wanted = tuple(kinds)
        if not wanted:
            return {}
        marks = ", ".join("?" for _ in wanted)

        def op(db: sqlite3.Connection) -> dict[str, Backlog]:
            # Unfinished jobs are those with a `due_us` (the partial index `jobs_by_due`).
            rows = db.execute(
                "SELECT kind, count(*), min(created_us) FROM jobs WHERE due_us IS NOT NULL "
                f"AND kind IN ({marks}) GROUP BY kind",
                wanted,
            ).fetchall()
            return {str(k): Backlog(count=int(n), oldest_us=int(oldest)) for k, n, oldest in rows}

        return await self._engine.read(op)

    async def _changed(self, statement: str, params: tuple[object, ...]) -> bool:
        return await self._engine.write(lambda db: db.execute(statement, params).rowcount == 1)
