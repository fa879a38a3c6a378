"""The queue as an outbox: a job enqueued inside another write commits or rolls back with it; and the
`jobs` table added to a database file of an earlier version by the schema step."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from gateway.errors import ThreadNotFound
from gateway.store.jobs import RetryPolicy, new_job
from gateway.store.sqlite.engine import SqliteEngine
from gateway.store.sqlite.jobs import JOBS_SCHEMA, SqliteJobs, insert_job
from gateway.store.sqlite.schema import SCHEMA, migrate
from tests.integration.jobs_contract.conftest import POLICY, T0

KIND = "memory.write"


def engine(path: Path) -> SqliteEngine:
    return SqliteEngine(str(path), busy_timeout_ms=10_000, synchronous="FULL")


def tables(path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


async def test_a_file_without_the_jobs_table_gets_it_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "gateway.sqlite3"
    old = engine(path)
    await old.open(SCHEMA, migrate)  # a gateway of the version before the queue
    await old.write(
        lambda db: db.execute("INSERT INTO tombstones (org, id, expires_us) VALUES ('o1', 't1', 1)")
    )
    await old.close()
    assert "threads" in tables(path) and "jobs" not in tables(path)

    new = engine(path)
    await new.open(SCHEMA + JOBS_SCHEMA, migrate)
    try:
        assert "jobs" in tables(path)
        assert await new.read(lambda db: db.execute("SELECT id FROM tombstones").fetchall()) == [("t1",)]
        jobs = SqliteJobs(new, POLICY)
        job_id = await jobs.enqueue("o1", KIND, "k", b"p", at_us=T0)
        (claim,) = await jobs.claim("w", kinds=[KIND], lease_s=10, limit=1, at_us=T0)
        assert claim.job.id == job_id
    finally:
        await new.close()
    again = engine(path)  # opening a file that has it changes nothing
    await again.open(SCHEMA + JOBS_SCHEMA, migrate)
    try:
        job = await SqliteJobs(again, POLICY).get("o1", job_id)
        assert job is not None and job.status == "IN_PROGRESS"
    finally:
        await again.close()


async def test_a_job_enqueued_inside_a_write_commits_and_rolls_back_with_it(tmp_path: Path) -> None:
    db_engine = engine(tmp_path / "gateway.sqlite3")
    await db_engine.open(SCHEMA + JOBS_SCHEMA, migrate)
    jobs = SqliteJobs(db_engine, POLICY)
    policy = RetryPolicy()
    try:
        kept = new_job("o1", KIND, "kept", b"p", at_us=T0, policy=policy, max_attempts=None)

        def turn(db: sqlite3.Connection) -> str:
            db.execute("INSERT INTO tombstones (org, id, expires_us) VALUES ('o1', 'kept', 1)")
            return insert_job(db, kept)

        assert await db_engine.write(turn) == kept.id
        lost = new_job("o1", KIND, "lost", b"p", at_us=T0, policy=policy, max_attempts=None)

        def refused(db: sqlite3.Connection) -> str:
            insert_job(db, lost)
            raise ThreadNotFound("t")  # the turn's rules refused it after the job was written

        with pytest.raises(ThreadNotFound):
            await db_engine.write(refused)
        assert await jobs.get("o1", kept.id) is not None
        assert await jobs.get("o1", lost.id) is None
        claims = await jobs.claim("w", kinds=[KIND], lease_s=10, limit=10, at_us=T0)
        assert [c.job.key for c in claims] == ["kept"]
        # The outbox step is idempotent too: the same key inside another write finds the job.
        twin = new_job("o1", KIND, "kept", b"other", at_us=T0, policy=policy, max_attempts=None)
        assert await db_engine.write(lambda db: insert_job(db, twin)) == kept.id
    finally:
        await db_engine.close()
