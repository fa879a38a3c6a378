"""The worker loop (`gateway.core.jobs.JobRunner`) over every backend, on the real clock: handlers by
kind, retries, FAILED, bounded concurrency, idle backoff and `wake`, lease renewal, a lost lease,
and a clean stop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest

from gateway.core.jobs import FinalJobError, Handler, JobRunner, RunnerSettings
from gateway.core.rules import now_us
from gateway.store.jobs import Claim, Job, JobStatus, JobStore, RetryPolicy
from tests.integration.jobs_contract.conftest import Queue

MS = 1000
FAST = RetryPolicy(max_attempts=3, base_delay_us=20 * MS, max_delay_us=50 * MS, keep_us=3_600_000_000)
QUICK = RunnerSettings(lease_s=5, concurrency=4, idle_min_s=0.01, idle_max_s=0.05, stop_grace_s=1)


@pytest.fixture
async def jobs(queue: Queue) -> JobStore:
    return await queue.another(FAST)


@pytest.fixture
async def runners() -> AsyncIterator[list[JobRunner]]:
    made: list[JobRunner] = []
    yield made
    for runner in made:
        await runner.stop(grace_s=0)


def start(
    made: list[JobRunner], jobs: JobStore, handlers: dict[str, Handler], settings: RunnerSettings = QUICK
) -> JobRunner:
    runner = JobRunner(jobs, handlers, clock=now_us, settings=settings)
    made.append(runner)
    runner.start()
    return runner


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def status_of(jobs: JobStore, job_id: str, org: str = "o1") -> JobStatus | None:
    job = await jobs.get(org, job_id)
    return None if job is None else job.status


async def settled(jobs: JobStore, ids: Sequence[str], status: JobStatus = "COMPLETED") -> None:
    async def check() -> bool:
        return all([await status_of(jobs, i) == status for i in ids])

    await until(check)


async def test_each_job_runs_by_its_kind_and_keeps_its_handlers_result(
    jobs: JobStore, runners: list[JobRunner]
) -> None:
    seen: list[tuple[str, bytes]] = []

    async def memory(job: Job) -> bytes:
        seen.append((job.kind, job.payload))
        return b"mem:" + job.payload

    async def summary(job: Job) -> bytes:
        seen.append((job.kind, job.payload))
        return b"sum:" + job.payload

    mem = [await jobs.enqueue("o1", "memory", f"m{i}", b"%d" % i, at_us=now_us()) for i in range(5)]
    summ = [await jobs.enqueue("o1", "summary", f"s{i}", b"%d" % i, at_us=now_us()) for i in range(5)]
    orphan = await jobs.enqueue("o1", "nobody", "x", b"", at_us=now_us())
    start(runners, jobs, {"memory": memory, "summary": summary})
    await settled(jobs, mem + summ)
    for i, job_id in enumerate(mem):
        job = await jobs.get("o1", job_id)
        assert job is not None and (job.result, job.attempts) == (b"mem:%d" % i, 1)
    job = await jobs.get("o1", summ[3])
    assert job is not None and job.result == b"sum:3"
    assert sorted(seen) == sorted(
        [("memory", b"%d" % i) for i in range(5)] + [("summary", b"%d" % i) for i in range(5)]
    )
    assert await status_of(jobs, orphan) == "PENDING"  # a kind this runner has no handler for


async def test_a_failing_handler_is_retried_until_it_succeeds(
    jobs: JobStore, runners: list[JobRunner]
) -> None:
    calls: list[float] = []

    async def flaky(job: Job) -> bytes:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise RuntimeError(f"attempt {len(calls)} failed")
        return b"third time"

    job_id = await jobs.enqueue("o1", "memory", "k", b"", at_us=now_us())
    start(runners, jobs, {"memory": flaky})
    await settled(jobs, [job_id])
    job = await jobs.get("o1", job_id)
    assert job is not None and (job.result, job.attempts, job.error) == (
        b"third time",
        3,
        "RuntimeError: attempt 2 failed",
    )
    # The backoff was waited: 20 ms, then 40 ms.
    assert calls[1] - calls[0] >= 0.02 and calls[2] - calls[1] >= 0.04


async def test_a_handler_that_always_fails_leaves_its_job_failed(
    jobs: JobStore, runners: list[JobRunner]
) -> None:
    calls = 0

    async def broken(job: Job) -> bytes:
        nonlocal calls
        calls += 1
        raise RuntimeError("boom")

    async def refuses(job: Job) -> bytes:
        raise FinalJobError("the payload names no thread")

    retried = await jobs.enqueue("o1", "memory", "k", b"", at_us=now_us())
    final = await jobs.enqueue("o1", "summary", "k", b"", at_us=now_us())
    start(runners, jobs, {"memory": broken, "summary": refuses})
    await settled(jobs, [retried, final], "FAILED")
    job = await jobs.get("o1", retried)
    assert job is not None and (job.error, job.attempts, calls) == ("RuntimeError: boom", 3, 3)
    job = await jobs.get("o1", final)
    assert job is not None and (job.error, job.attempts) == ("FinalJobError: the payload names no thread", 1)


async def test_no_more_handlers_run_at_once_than_the_runner_has_slots(
    jobs: JobStore, runners: list[JobRunner]
) -> None:
    gate = asyncio.Event()
    now = peak = 0

    async def held(job: Job) -> bytes:
        nonlocal now, peak
        now += 1
        peak = max(peak, now)
        await gate.wait()
        now -= 1
        return b""

    ids = [await jobs.enqueue("o1", "memory", f"k{i}", b"", at_us=now_us()) for i in range(10)]
    runner = start(
        runners,
        jobs,
        {"memory": held},
        RunnerSettings(lease_s=5, concurrency=3, idle_min_s=0.01, idle_max_s=0.02),
    )
    await until(lambda: _true(runner.running == 3))
    await asyncio.sleep(0.2)  # several idle rounds: still three
    assert (peak, runner.running) == (3, 3)
    statuses = [await status_of(jobs, i) for i in ids]
    assert statuses.count("IN_PROGRESS") == 3 and statuses.count("PENDING") == 7
    gate.set()
    await settled(jobs, ids)
    assert peak == 3


async def _true(value: bool) -> bool:
    return value


class CountingJobs:
    """The store, with its claims counted (to see how often an idle runner asks)."""

    def __init__(self, jobs: JobStore) -> None:
        self.jobs = jobs
        self.claims = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.jobs, name)

    async def claim(
        self, worker: str, *, kinds: Sequence[str], lease_s: float, limit: int, at_us: int
    ) -> list[Claim]:
        self.claims += 1
        return await self.jobs.claim(worker, kinds=kinds, lease_s=lease_s, limit=limit, at_us=at_us)


async def test_an_idle_runner_polls_less_and_less_and_a_wake_runs_a_job_at_once(
    jobs: JobStore, runners: list[JobRunner]
) -> None:
    counting = CountingJobs(jobs)

    async def echo(job: Job) -> bytes:
        return job.payload

    settings = RunnerSettings(lease_s=5, concurrency=2, idle_min_s=0.01, idle_max_s=0.4)
    runner = start(runners, counting, {"memory": echo}, settings)  # type: ignore[arg-type]
    await asyncio.sleep(1.2)
    # 10, 20, 40, 80, 160, 320, 400, 400 ms...: about eight rounds, where a fixed 10 ms would be 120.
    assert 4 <= counting.claims <= 12, counting.claims
    job_id = await jobs.enqueue("o1", "memory", "k", b"now", at_us=now_us())
    started = time.monotonic()
    runner.wake()
    await settled(jobs, [job_id])
    assert time.monotonic() - started < 0.3  # not the 400 ms of the idle wait


async def test_a_long_handler_keeps_its_lease_and_no_other_worker_takes_the_job(
    queue: Queue, jobs: JobStore, runners: list[JobRunner]
) -> None:
    other = await queue.another(FAST)

    async def slow(job: Job) -> bytes:
        await asyncio.sleep(1.0)
        return b"slow"

    job_id = await jobs.enqueue("o1", "memory", "k", b"", at_us=now_us())
    start(runners, jobs, {"memory": slow}, RunnerSettings(lease_s=0.3, concurrency=1, idle_min_s=0.01))
    await until(lambda: _in_progress(jobs, job_id))
    for _ in range(10):  # a second worker keeps trying, past three lease lengths
        assert await other.claim("thief", kinds=["memory"], lease_s=1, limit=1, at_us=now_us()) == []
        await asyncio.sleep(0.1)
    await settled(jobs, [job_id])
    job = await jobs.get("o1", job_id)
    assert job is not None and (job.result, job.attempts) == (b"slow", 1)


async def _in_progress(jobs: JobStore, job_id: str) -> bool:
    return await status_of(jobs, job_id) == "IN_PROGRESS"


async def test_a_handler_whose_lease_was_taken_over_is_stopped_and_cannot_complete(
    queue: Queue, jobs: JobStore, runners: list[JobRunner]
) -> None:
    other = await queue.another(FAST)
    cancelled = asyncio.Event()

    async def stuck(job: Job) -> bytes:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return b"never"

    job_id = await jobs.enqueue("o1", "memory", "k", b"", at_us=now_us())
    start(runners, jobs, {"memory": stuck}, RunnerSettings(lease_s=0.3, concurrency=1, idle_min_s=0.01))
    await until(lambda: _in_progress(jobs, job_id))
    # Another worker whose clock runs an hour ahead sees the lease long gone and takes the job.
    (taken,) = await other.claim(
        "thief", kinds=["memory"], lease_s=3600, limit=1, at_us=now_us() + 3_600_000_000
    )
    await asyncio.wait_for(cancelled.wait(), 2)  # the runner's next renewal was refused
    assert await other.complete(job_id, taken.token, b"by the thief", at_us=now_us())
    job = await jobs.get("o1", job_id)
    assert job is not None and (job.result, job.attempts) == (b"by the thief", 2)


async def test_stop_lets_quick_handlers_finish_and_gives_the_stuck_ones_back(
    queue: Queue, jobs: JobStore
) -> None:
    async def handle(job: Job) -> bytes:
        await asyncio.sleep(0.05 if job.key == "quick" else 30)
        return b"done"

    quick = await jobs.enqueue("o1", "memory", "quick", b"", at_us=now_us())
    stuck = await jobs.enqueue("o1", "memory", "stuck", b"", at_us=now_us())
    runner = JobRunner(jobs, {"memory": handle}, clock=now_us, settings=QUICK)
    runner.start()
    await until(lambda: _true(runner.running == 2))
    began = time.monotonic()
    await runner.stop(grace_s=0.3)
    assert time.monotonic() - began < 1.5 and runner.running == 0
    assert await status_of(jobs, quick) == "COMPLETED"
    job = await jobs.get("o1", stuck)
    assert job is not None and (job.status, job.attempts) == ("PENDING", 0)  # back, attempt not counted
    other = await queue.another(FAST)
    (claim,) = await other.claim("next", kinds=["memory"], lease_s=5, limit=1, at_us=now_us())
    assert claim.job.id == stuck
    # A stopped runner claims nothing more.
    after = await jobs.enqueue("o1", "memory", "after", b"", at_us=now_us())
    runner.wake()
    await asyncio.sleep(0.2)
    assert await status_of(jobs, after) == "PENDING"
