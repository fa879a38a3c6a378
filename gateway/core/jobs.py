"""The worker loop of the job queue (`gateway.store.jobs`): claims due jobs and runs their handlers.

One `JobRunner` per process. It claims only as many jobs as it has free slots (`concurrency`),
renews each job's lease while its handler runs (a third of the lease, so a slow store round trip
does not lose it), and settles the job with what the handler did: its result, or its error for a
retry. When there is nothing to do it polls less and less often, from `idle_min_s` up to
`idle_max_s`; `wake()` (after an enqueue in this process) ends the wait at once.

Handlers must be idempotent: a job runs at least once, and again if its worker died mid-way or
lost its lease. The store guarantees only that one claim completes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable, Mapping

import msgspec
import structlog

from gateway.ids import new_id
from gateway.store.jobs import Claim, Job, JobStore

_log = structlog.get_logger("gateway")

Handler = Callable[[Job], Awaitable[bytes]]


class FinalJobError(Exception):
    """Raised by a handler whose job can never succeed (a bad payload): FAILED now, no retry."""


def payload_of[T](job: Job, kind: type[T]) -> T:
    """A job's payload as `kind`; a payload that is not one fails the job for good."""
    try:
        return msgspec.json.decode(job.payload, type=kind)
    except msgspec.DecodeError as exc:
        raise FinalJobError(f"bad payload: {exc}") from None


class RunnerSettings(msgspec.Struct, frozen=True, kw_only=True):
    lease_s: float = 30.0
    concurrency: int = 4
    idle_min_s: float = 0.05
    idle_max_s: float = 2.0
    # What `stop` waits for running handlers before it cancels them and gives their jobs back.
    stop_grace_s: float = 5.0


def worker_name() -> str:
    """This process's name in the jobs it claims (for operators reading the store)."""
    return f"{socket.gethostname()}:{os.getpid()}:{new_id('w')[-8:]}"  # 8 of its random digits


class JobRunner:
    """Runs `handlers` (by job kind) for the jobs of `jobs`; `start`, then `stop` in the lifespan."""

    def __init__(
        self,
        jobs: JobStore,
        handlers: Mapping[str, Handler],
        *,
        clock: Callable[[], int],
        settings: RunnerSettings | None = None,
        worker: str | None = None,
    ) -> None:
        self._jobs = jobs
        self._handlers = dict(handlers)
        self._kinds = tuple(sorted(self._handlers))
        self._clock = clock
        self._settings = settings or RunnerSettings()
        if self._settings.concurrency < 1:
            raise ValueError("a runner needs at least one slot")
        self.worker = worker or worker_name()
        self._running: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None

    @property
    def running(self) -> int:
        """Handlers running now."""
        return len(self._running)

    def start(self) -> None:
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._loop(), name="job-runner")

    def wake(self) -> None:
        """Look for due jobs now instead of at the end of the idle wait."""
        self._wake.set()

    async def stop(self, grace_s: float | None = None) -> None:
        """Claim nothing more; let running handlers finish for `grace_s`, then cancel them and give
        their jobs back to the queue (due at once, the attempt not counted)."""
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            await self._loop_task
            self._loop_task = None
        grace = self._settings.stop_grace_s if grace_s is None else grace_s
        if self._running:
            await asyncio.wait(set(self._running), timeout=grace)
        for task in list(self._running):
            task.cancel()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def run_once(self) -> int:
        """Claim as many due jobs as there are free slots and start them; how many were claimed."""
        free = self._settings.concurrency - len(self._running)
        if free <= 0 or not self._kinds:
            return 0
        claims = await self._jobs.claim(
            self.worker, kinds=self._kinds, lease_s=self._settings.lease_s, limit=free, at_us=self._clock()
        )
        for claim in claims:
            task = asyncio.create_task(self._run(claim), name=f"job-{claim.job.id}")
            self._running.add(task)
            task.add_done_callback(self._finished)
        return len(claims)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()  # a slot is free

    async def _loop(self) -> None:
        idle = self._settings.idle_min_s
        while not self._stopping:
            self._wake.clear()
            try:
                claimed = await self.run_once()
            except Exception:  # noqa: BLE001 - the store is down: wait as when idle, then try again
                _log.warning("job_claim_failed", exc_info=True)
                claimed = 0
            if claimed and len(self._running) < self._settings.concurrency:
                idle = self._settings.idle_min_s
                continue  # more may be due
            if not claimed and len(self._running) < self._settings.concurrency:
                wait, idle = idle, min(idle * 2, self._settings.idle_max_s)
            else:
                wait, idle = self._settings.idle_max_s, self._settings.idle_min_s  # full: a slot wakes us
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def _run(self, claim: Claim) -> None:
        job = claim.job
        work = asyncio.ensure_future(self._handlers[job.kind](job))
        try:
            held = await self._hold(claim, work)
        except asyncio.CancelledError:
            # `stop` gave up waiting: the job goes back unfinished, for another worker or restart.
            await _cancelled(work)
            with contextlib.suppress(Exception):
                await self._jobs.release(job.id, claim.token, at_us=self._clock())
            raise
        if not held:
            _log.warning("job_lease_lost", job_id=job.id, kind=job.kind)
            await _cancelled(work)
            return
        try:
            result = work.result()
        except FinalJobError as exc:
            await self._fail(claim, exc, final=True)
        except Exception as exc:  # noqa: BLE001 - any failure of a handler is the job's to retry
            await self._fail(claim, exc, final=False)
        else:
            try:
                done = await self._jobs.complete(job.id, claim.token, result, at_us=self._clock())
            except Exception:  # noqa: BLE001 - the lease runs out and the job is run again
                _log.warning("job_complete_failed", job_id=job.id, kind=job.kind, exc_info=True)
                return
            if not done:
                _log.warning("job_completion_fenced", job_id=job.id, kind=job.kind)

    async def _hold(self, claim: Claim, work: asyncio.Future[bytes]) -> bool:
        """Renew the lease until `work` is done; False when another worker took the job over."""
        every = self._settings.lease_s / 3
        while True:
            done, _ = await asyncio.wait({work}, timeout=every)
            if done:
                return True
            try:
                renewed = await self._jobs.renew(
                    claim.job.id, claim.token, lease_s=self._settings.lease_s, at_us=self._clock()
                )
            except Exception:  # noqa: BLE001 - keep working; completion is fenced if the lease is lost
                _log.warning("job_renew_failed", job_id=claim.job.id, exc_info=True)
                continue
            if not renewed:
                return False

    async def _fail(self, claim: Claim, exc: Exception, *, final: bool) -> None:
        job = claim.job
        error = f"{type(exc).__name__}: {exc}"
        try:
            status = await self._jobs.fail(job.id, claim.token, error, at_us=self._clock(), final=final)
        except Exception:  # noqa: BLE001 - the lease runs out and the job is run again
            _log.warning("job_fail_failed", job_id=job.id, kind=job.kind, exc_info=True)
            return
        _log.warning(
            "job_failed", job_id=job.id, kind=job.kind, attempt=job.attempts, status=status, error=error
        )


async def _cancelled(work: asyncio.Future[bytes]) -> None:
    """Cancel the handler and wait until it has stopped (its outcome no longer matters)."""
    work.cancel()
    await asyncio.wait({work})
    if not work.cancelled():
        work.exception()  # retrieved: a handler that failed while being cancelled is not reported
