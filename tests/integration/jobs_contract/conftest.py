"""The backends of the job-queue contract: the `queue` fixture is parametrized over every one of
them, so that each implementation of `gateway.store.jobs.JobStore` passes every test here.

A test may open a second, independent instance on the same data (`Queue.another`, its own SQLite
connections or its own MongoDB client), as a second worker process would, and may close and reopen
the store (`Queue.reopen`), as a restart does.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.store.jobs import JobStore, RetryPolicy
from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.jobs import MongoJobs
from gateway.store.sqlite.engine import SqliteEngine
from gateway.store.sqlite.jobs import JOBS_SCHEMA, SqliteJobs
from tests.integration.store_contract.helpers import LIMITS
from tests.services import mongo_uri

S = 1_000_000
T0 = 1_800_000_000 * S
# Short and round, so the tests can step the clock across each boundary.
POLICY = RetryPolicy(max_attempts=4, base_delay_us=1 * S, max_delay_us=5 * S, keep_us=100 * S)


class Queue:
    """Instances of one backend's job store over one database; all closed at the end."""

    def __init__(self, name: str, target: str, database: str = "") -> None:
        self.name = name
        self.target = target  # the SQLite file, or the MongoDB URI
        self.database = database
        self._open: list[SqliteEngine | MongoDatabase] = []

    async def another(self, policy: RetryPolicy = POLICY) -> JobStore:
        if self.name == "sqlite":
            engine = SqliteEngine(self.target, busy_timeout_ms=10_000, synchronous="FULL")
            await engine.open(JOBS_SCHEMA)
            self._open.append(engine)
            return SqliteJobs(engine, policy)
        db = MongoDatabase(self.target, LIMITS, database=self.database, timeout_s=30)
        await db.open()
        self._open.append(db)
        jobs = MongoJobs(db, policy)
        await jobs.open()
        return jobs

    async def close(self) -> None:
        while self._open:
            await self._open.pop().close()

    async def reopen(self, policy: RetryPolicy = POLICY) -> JobStore:
        """Every instance closed, then a new one: what a restart of the process sees."""
        await self.close()
        return await self.another(policy)


@pytest.fixture
async def sqlite_queue(tmp_path: Path) -> AsyncIterator[Queue]:
    q = Queue("sqlite", str(tmp_path / "db" / "gateway.sqlite3"))
    yield q
    await q.close()


@pytest.fixture
async def mongo_queue() -> AsyncIterator[Queue]:
    async with mongo_uri() as uri:
        q = Queue("mongodb", uri, f"gw_{uuid.uuid4().hex[:8]}")
        yield q
        await q.close()


@pytest.fixture(params=["sqlite_queue", "mongo_queue"])
def queue(request: pytest.FixtureRequest) -> Queue:
    """Every backend, one after the other."""
    q: Queue = request.getfixturevalue(request.param)
    return q


@pytest.fixture
async def jobs(queue: Queue) -> JobStore:
    return await queue.another()
