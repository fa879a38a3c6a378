"""A worker process of the kill -9 test (`test_kill.py`):
`python -m tests.integration.jobs_contract.worker_main BACKEND TARGET DATABASE ROLE MARKS`.

`start`: enqueues the job and runs it with a handler that notes `started` in MARKS and never ends
(the test kills the process there). `finish`: enqueues the same key again (the same job), runs the
queue with a handler that notes `done` and returns, and exits once the job is COMPLETED.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from gateway.core.jobs import JobRunner, RunnerSettings
from gateway.core.rules import now_us
from gateway.store.jobs import Job, JobStore, RetryPolicy
from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.jobs import MongoJobs
from gateway.store.sqlite.engine import SqliteEngine
from gateway.store.sqlite.jobs import JOBS_SCHEMA, SqliteJobs
from tests.integration.store_contract.helpers import LIMITS

KIND, KEY, ORG = "memory.write", "resp_killed", "o1"
POLICY = RetryPolicy(max_attempts=5, base_delay_us=100_000, max_delay_us=1_000_000)


def note(marks: Path, word: str) -> None:
    with marks.open("a") as f:
        f.write(f"{word} {os.getpid()}\n")
        f.flush()
        os.fsync(f.fileno())


async def main(backend: str, target: str, database: str, role: str, marks: Path) -> None:
    closing: SqliteEngine | MongoDatabase
    jobs: JobStore
    if backend == "sqlite":
        closing = SqliteEngine(target, busy_timeout_ms=10_000, synchronous="FULL")
        await closing.open(JOBS_SCHEMA)
        jobs = SqliteJobs(closing, POLICY)
    else:
        closing = MongoDatabase(target, LIMITS, database=database, timeout_s=30)
        await closing.open()
        jobs = MongoJobs(closing, POLICY)
        await jobs.open()
    job_id = await jobs.enqueue(ORG, KIND, KEY, b"remember: peanuts", at_us=now_us())

    async def hang(job: Job) -> bytes:
        note(marks, "started")
        await asyncio.Event().wait()
        return b""

    async def finish(job: Job) -> bytes:
        note(marks, "done")
        return f"finished by {os.getpid()}".encode()

    if role == "start":
        runner = JobRunner(jobs, {KIND: hang}, clock=now_us, settings=RunnerSettings(lease_s=1.0))
        runner.start()
        await asyncio.Event().wait()  # until killed
    runner = JobRunner(
        jobs, {KIND: finish}, clock=now_us, settings=RunnerSettings(lease_s=10, idle_max_s=0.2)
    )
    runner.start()
    try:
        for _ in range(600):
            job = await jobs.get(ORG, job_id)
            if job is not None and job.status == "COMPLETED":
                break
            await asyncio.sleep(0.05)
    finally:
        await runner.stop()
        await closing.close()


if __name__ == "__main__":
    backend, target, database, role, marks = sys.argv[1:6]
    asyncio.run(main(backend, target, database, role, Path(marks)))
