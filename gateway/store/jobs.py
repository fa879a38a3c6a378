"""The durable job queue (the transactional outbox): background work recorded in the store.

Memory writes and summaries are jobs: a row (SQLite) or a document (MongoDB) written with the turn
that asks for them, claimed by a worker loop (`gateway.core.jobs.JobRunner`) under a lease, retried
with exponential backoff, and idempotent on (organization, kind, key), so a crash loses nothing and
runs nothing twice to completion.

A job's life, the same on every backend (the transitions are the functions of this module):

    PENDING --claim--> IN_PROGRESS --complete--> COMPLETED
       ^                  |  |
       +---fail (retry)---+  +--fail (attempts used up, or final)--> FAILED
       +---lease expired--+  (a crashed worker's job is claimed again; no attempt left: FAILED)

- `due_us` is when a job may next be claimed: the retry time of a PENDING job, the lease's end of
  an IN_PROGRESS one, none once finished. A claim takes due jobs, oldest due first.
- Every claim increments the job's `token` (the fencing token): `complete`, `fail`, `renew` and
  `release` hold only for the claim that carries the current one, so a worker whose lease was taken
  over can no longer complete or fail the job. A late worker whose lease ran out but was not taken
  over may still complete it: the work is done, and nobody else holds it.
- An attempt is counted when the job is claimed, so a job that kills its worker every time ends
  FAILED after `max_attempts` claims, like one that raises.
- Finished jobs are kept `RetryPolicy.keep_us` for status reads (`get`), then purged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

import msgspec

from gateway.ids import new_id

JobStatus = Literal["PENDING", "IN_PROGRESS", "COMPLETED", "FAILED"]
FINISHED: frozenset[JobStatus] = frozenset({"COMPLETED", "FAILED"})

# Bounds on what a job carries (what it needs is an id or two and some text, not documents).
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_RESULT_BYTES = 256 * 1024
MAX_ERROR_CHARS = 1000
MAX_CLAIM = 100
# The error a job ends with when its last attempt's worker died (its lease ran out).
LEASE_EXPIRED = "The worker's lease expired (the worker stopped or died) on the last attempt."


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How a failed job is retried: after `base_delay_us`, then twice as long each time, at most
    `max_delay_us`; FAILED once `max_attempts` attempts were made. Finished jobs stay `keep_us`."""

    max_attempts: int = 5
    base_delay_us: int = 2_000_000
    max_delay_us: int = 600_000_000
    keep_us: int = 7 * 86_400_000_000


class NewJob(msgspec.Struct, frozen=True, kw_only=True):
    """A job to enqueue (see `new_job`). Backends insert it unless its key is taken."""

    org: str
    id: str
    kind: str
    key: str
    payload: bytes
    max_attempts: int
    at_us: int


class Job(msgspec.Struct, frozen=True, kw_only=True):
    """A job as stored. `attempts`: claims made so far. `result` once COMPLETED, `error` once an
    attempt failed (the last one's)."""

    org: str
    id: str
    kind: str
    key: str
    payload: bytes
    status: JobStatus
    attempts: int
    max_attempts: int
    created_us: int
    updated_us: int
    result: bytes | None = None
    error: str | None = None


# The stored fields of `Job`, in its order (the SQLite columns, the MongoDB document's keys).
JOB_FIELDS: tuple[str, ...] = tuple(f.name for f in msgspec.structs.fields(Job))


class Backlog(msgspec.Struct, frozen=True, kw_only=True):
    """The unfinished jobs of one kind: how many, and the oldest one's `created_us`."""

    count: int
    oldest_us: int


class Claim(msgspec.Struct, frozen=True, kw_only=True):
    """A job taken by one worker: its lease lasts until `lease_until_us` and `token` fences it."""

    job: Job
    token: int
    lease_until_us: int


class Failure(msgspec.Struct, frozen=True, kw_only=True):
    """What a failed attempt leaves: the next status, when it is due again, when it is purged."""

    status: JobStatus
    due_us: int | None
    expires_us: int | None


def new_job(
    org: str,
    kind: str,
    key: str,
    payload: bytes,
    *,
    at_us: int,
    policy: RetryPolicy,
    max_attempts: int | None,
) -> NewJob:
    """A job with a fresh id, checked against the bounds."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"a job's payload is at most {MAX_PAYLOAD_BYTES} bytes")
    attempts = policy.max_attempts if max_attempts is None else max_attempts
    if attempts < 1:
        raise ValueError("a job needs at least one attempt")
    return NewJob(
        org=org, id=new_id("job"), kind=kind, key=key, payload=payload, max_attempts=attempts, at_us=at_us
    )


def retry_delay_us(policy: RetryPolicy, attempts: int) -> int:
    """The wait before the next attempt after `attempts` failed ones (exponential, capped)."""
    return min(policy.base_delay_us << max(attempts - 1, 0), policy.max_delay_us)


def after_failure(
    policy: RetryPolicy, *, attempts: int, max_attempts: int, final: bool, at_us: int
) -> Failure:
    """The job's next step after its `attempts`-th attempt failed: retried later, or FAILED."""
    if final or attempts >= max_attempts:
        return Failure(status="FAILED", due_us=None, expires_us=at_us + policy.keep_us)
    return Failure(status="PENDING", due_us=at_us + retry_delay_us(policy, attempts), expires_us=None)


def checked_result(result: bytes) -> bytes:
    if len(result) > MAX_RESULT_BYTES:
        raise ValueError(f"a job's result is at most {MAX_RESULT_BYTES} bytes")
    return result


def error_text(error: str) -> str:
    """An error as kept with the job: bounded (the reason, not a traceback)."""
    return error[:MAX_ERROR_CHARS]


def lease_us(lease_s: float) -> int:
    if lease_s <= 0:
        raise ValueError("a lease must last some time")
    return int(lease_s * 1_000_000)


def claim_limit(limit: int) -> int:
    return max(0, min(limit, MAX_CLAIM))


class JobStore(Protocol):
    """The queue of one backend. Reads are scoped by organization; the worker's calls name a job by
    its id and the token of its claim (ids are unique across organizations)."""

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
        """The id of the job (org, kind, key): a new PENDING job due now, or, when the key was
        enqueued before, the earlier job's id with nothing changed (its payload kept)."""

    async def claim(
        self, worker: str, *, kinds: Sequence[str], lease_s: float, limit: int, at_us: int
    ) -> list[Claim]:
        """Take up to `limit` due jobs of `kinds`, oldest due first, each leased to `worker` for
        `lease_s`; no job is handed to two claims at once. A job whose last attempt's lease ran
        out is marked FAILED here instead of being handed out again."""

    async def renew(self, job_id: str, token: int, *, lease_s: float, at_us: int) -> bool:
        """Extend the claim's lease from now; False when the claim no longer holds the job."""

    async def complete(self, job_id: str, token: int, result: bytes, *, at_us: int) -> bool:
        """COMPLETED with `result`; False (nothing written) when the claim no longer holds it."""

    async def fail(
        self, job_id: str, token: int, error: str, *, at_us: int, final: bool = False
    ) -> JobStatus | None:
        """The attempt failed: PENDING again after the backoff, or FAILED when its attempts are
        used up or `final`; the new status, or None when the claim no longer holds the job."""

    async def release(self, job_id: str, token: int, *, at_us: int) -> bool:
        """Give the job back unfinished (a worker stopping): PENDING, due now, the attempt not
        counted. False when the claim no longer holds it."""

    async def get(self, org: str, job_id: str) -> Job | None:
        """The organization's job, or None (another organization's job is None too)."""

    async def purge(self, at_us: int) -> int:
        """Remove the finished jobs kept past `RetryPolicy.keep_us`; how many."""

    async def backlog(self, kinds: Sequence[str]) -> dict[str, Backlog]:
        """The unfinished jobs (PENDING or IN_PROGRESS) of each of `kinds` that has any, over
        every organization: how many, and when the oldest was enqueued (`/metrics`)."""
