"""The job queue's contract (`gateway.store.jobs`), on every backend: idempotent enqueue, exclusive
claims, leases that run out and are taken over, fencing, retries with backoff, FAILED after the
last attempt, organization scoping, purge, bounds, and a queue that outlives its process."""

from __future__ import annotations

import asyncio

import pytest

from gateway.store.jobs import (
    LEASE_EXPIRED,
    MAX_ERROR_CHARS,
    MAX_PAYLOAD_BYTES,
    MAX_RESULT_BYTES,
    JobStore,
    RetryPolicy,
    retry_delay_us,
)
from tests.integration.jobs_contract.conftest import POLICY, T0, Queue, S

MEM = "memory.write"


async def enqueue(
    jobs: JobStore, key: str, *, org: str = "o1", kind: str = MEM, at: int = T0, **kw: int
) -> str:
    return await jobs.enqueue(org, kind, key, f"payload of {key}".encode(), at_us=at, **kw)


async def test_a_second_enqueue_of_a_key_is_a_no_op_returning_the_same_job(jobs: JobStore) -> None:
    first = await jobs.enqueue("o1", MEM, "resp_1", b"first", at_us=T0)
    again = await jobs.enqueue("o1", MEM, "resp_1", b"second", at_us=T0 + S)
    assert again == first
    job = await jobs.get("o1", first)
    assert job is not None
    assert (job.status, job.payload, job.attempts, job.created_us) == ("PENDING", b"first", 0, T0)
    # Another kind, key or organization is another job.
    others = {
        await jobs.enqueue("o1", "summary", "resp_1", b"x", at_us=T0),
        await jobs.enqueue("o1", MEM, "resp_2", b"x", at_us=T0),
        await jobs.enqueue("o2", MEM, "resp_1", b"x", at_us=T0),
    }
    assert len(others) == 3 and first not in others


async def test_concurrent_enqueues_of_one_key_make_one_job(queue: Queue) -> None:
    a, b = await queue.another(), await queue.another()
    ids = await asyncio.gather(*(s.enqueue("o1", MEM, "same", b"p", at_us=T0) for s in (a, b) * 5))
    assert len(set(ids)) == 1
    claims = await a.claim("w", kinds=[MEM], lease_s=10, limit=10, at_us=T0)
    assert [c.job.id for c in claims] == [ids[0]]


async def test_a_claim_takes_due_jobs_oldest_first_each_once(jobs: JobStore) -> None:
    ids = [await enqueue(jobs, f"k{i}", at=T0 + i) for i in range(3)]
    first = await jobs.claim("w1", kinds=[MEM], lease_s=10, limit=2, at_us=T0 + 5)
    assert [c.job.id for c in first] == ids[:2]
    assert all(c.job.status == "IN_PROGRESS" and c.job.attempts == 1 for c in first)
    assert all(c.lease_until_us == T0 + 5 + 10 * S for c in first)
    assert first[0].job.payload == b"payload of k0"
    second = await jobs.claim("w2", kinds=[MEM], lease_s=10, limit=2, at_us=T0 + 6)
    assert [c.job.id for c in second] == ids[2:]
    assert await jobs.claim("w3", kinds=[MEM], lease_s=10, limit=2, at_us=T0 + 7) == []
    job = await jobs.get("o1", ids[0])
    assert job is not None and job.status == "IN_PROGRESS"


async def test_a_claim_takes_only_its_kinds_and_nothing_not_yet_due(jobs: JobStore) -> None:
    summary = await enqueue(jobs, "k", kind="summary")
    later = await enqueue(jobs, "later", at=T0 + 60 * S)
    assert await jobs.claim("w", kinds=[MEM], lease_s=10, limit=10, at_us=T0) == []
    assert await jobs.claim("w", kinds=[], lease_s=10, limit=10, at_us=T0) == []
    (claim,) = await jobs.claim("w", kinds=["summary", "other"], lease_s=10, limit=10, at_us=T0)
    assert claim.job.id == summary
    (claim,) = await jobs.claim("w", kinds=[MEM], lease_s=10, limit=10, at_us=T0 + 60 * S)
    assert claim.job.id == later


async def test_no_job_is_handed_to_two_claims_under_concurrency(queue: Queue) -> None:
    workers = [await queue.another(), await queue.another()]  # two processes' worth of connections
    ids = {await enqueue(workers[0], f"k{i}") for i in range(40)}
    got: list[str] = []

    async def worker(n: int) -> None:
        jobs = workers[n % 2]
        while claims := await jobs.claim(f"w{n}", kinds=[MEM], lease_s=60, limit=3, at_us=T0 + S):
            got.extend(c.job.id for c in claims)

    await asyncio.gather(*(worker(n) for n in range(8)))
    assert sorted(got) == sorted(ids)  # every job once, none twice


async def test_a_lease_that_ran_out_is_taken_over_and_the_first_worker_is_fenced(jobs: JobStore) -> None:
    job_id = await enqueue(jobs, "k")
    (old,) = await jobs.claim("w1", kinds=[MEM], lease_s=10, limit=1, at_us=T0)
    assert await jobs.claim("w2", kinds=[MEM], lease_s=10, limit=1, at_us=T0 + 10 * S - 1) == []
    (new,) = await jobs.claim("w2", kinds=[MEM], lease_s=10, limit=1, at_us=T0 + 10 * S)
    assert new.job.id == job_id and new.token > old.token and new.job.attempts == 2
    at = T0 + 11 * S
    assert await jobs.complete(job_id, old.token, b"from w1", at_us=at) is False
    assert await jobs.fail(job_id, old.token, "w1 failed", at_us=at) is None
    assert await jobs.renew(job_id, old.token, lease_s=10, at_us=at) is False
    assert await jobs.release(job_id, old.token, at_us=at) is False
    job = await jobs.get("o1", job_id)
    assert job is not None and (job.status, job.error, job.attempts) == ("IN_PROGRESS", None, 2)
    assert await jobs.complete(job_id, new.token, b"from w2", at_us=at) is True
    job = await jobs.get("o1", job_id)
    assert job is not None and (job.status, job.result) == ("COMPLETED", b"from w2")
    # Finished: nothing more to claim, and completing again is refused.
    assert await jobs.claim("w3", kinds=[MEM], lease_s=10, limit=1, at_us=T0 + 1000 * S) == []
    assert await jobs.complete(job_id, new.token, b"again", at_us=at) is False


async def test_a_renewed_lease_lasts_from_the_renewal(jobs: JobStore) -> None:
    await enqueue(jobs, "k")
    (claim,) = await jobs.claim("w1", kinds=[MEM], lease_s=10, limit=1, at_us=T0)
    assert await jobs.renew(claim.job.id, claim.token, lease_s=10, at_us=T0 + 8 * S) is True
    assert await jobs.claim("w2", kinds=[MEM], lease_s=10, limit=1, at_us=T0 + 17 * S) == []
    (taken,) = await jobs.claim("w2", kinds=[MEM], lease_s=10, limit=1, at_us=T0 + 18 * S)
    assert taken.job.id == claim.job.id


async def test_a_late_worker_whose_job_nobody_took_over_still_completes_it(jobs: JobStore) -> None:
    job_id = await enqueue(jobs, "k")
    (claim,) = await jobs.claim("w1", kinds=[MEM], lease_s=1, limit=1, at_us=T0)
    assert await jobs.complete(job_id, claim.token, b"done", at_us=T0 + 30 * S) is True
    job = await jobs.get("o1", job_id)
    assert job is not None and (job.status, job.result, job.updated_us) == ("COMPLETED", b"done", T0 + 30 * S)


async def test_a_failed_attempt_is_retried_after_an_exponential_backoff(jobs: JobStore) -> None:
    job_id = await enqueue(jobs, "k")
    at = T0
    for attempt, delay in enumerate([1 * S, 2 * S, 4 * S], start=1):
        (claim,) = await jobs.claim("w", kinds=[MEM], lease_s=60, limit=1, at_us=at)
        assert claim.job.attempts == attempt
        status = await jobs.fail(job_id, claim.token, f"boom {attempt}", at_us=at)
        assert status == "PENDING"
        job = await jobs.get("o1", job_id)
        assert job is not None and (job.status, job.error) == ("PENDING", f"boom {attempt}")
        assert await jobs.claim("w", kinds=[MEM], lease_s=60, limit=1, at_us=at + delay - 1) == []
        at += delay
    assert [retry_delay_us(POLICY, n) for n in range(1, 6)] == [1 * S, 2 * S, 4 * S, 5 * S, 5 * S]


async def test_a_job_is_failed_once_its_attempts_are_used_up(jobs: JobStore) -> None:
    job_id = await enqueue(jobs, "k", max_attempts=2)
    (claim,) = await jobs.claim("w", kinds=[MEM], lease_s=60, limit=1, at_us=T0)
    assert await jobs.fail(job_id, claim.token, "first", at_us=T0) == "PENDING"
    (claim,) = await jobs.claim("w", kinds=[MEM], lease_s=60, limit=1, at_us=T0 + 1 * S)
    assert await jobs.fail(job_id, claim.token, "second", at_us=T0 + 1 * S) == "FAILED"
    job = await jobs.get("o1", job_id)
    assert job is not None and (job.status, job.error, job.attempts, job.max_attempts) == (
        "FAILED",
        "second",
        2,
        2,
    )
    assert await jobs.claim("w", kinds=[MEM], lease_s=60, limit=1, at_us=T0 + 10_000 * S) == []
    # The store's policy gives the default number of attempts.
    default = await enqueue(jobs, "default")
    job = await jobs.get("o1", default)
    assert job is not None and job.max_attempts == POLICY.max_attempts


async def test_a_final_failure_is_not_retried(jobs: JobStore) -> None:
    job_id = await enqueue(jobs, "k")
    (claim,) = await jobs.claim("w", kinds=[MEM], lease_s=60, limit=1, at_us=T0)
    assert await jobs.fail(job_id, claim.token, "bad payload", at_us=T0, final=True) == "FAILED"
    assert await jobs.claim("w", kinds=[MEM], lease_s=60, limit=1, at_us=T0 + 10_000 * S) == []


async def test_a_job_whose_worker_dies_on_every_attempt_ends_failed(jobs: JobStore) -> None:
    job_id = await enqueue(jobs, "k", max_attempts=2)
    (_first,) = await jobs.claim("w1", kinds=[MEM], lease_s=5, limit=1, at_us=T0)
    (second,) = await jobs.claim("w2", kinds=[MEM], lease_s=5, limit=1, at_us=T0 + 5 * S)
    assert second.job.attempts == 2
    assert await jobs.claim("w3", kinds=[MEM], lease_s=5, limit=1, at_us=T0 + 10 * S) == []
    job = await jobs.get("o1", job_id)
    assert job is not None and (job.status, job.error) == ("FAILED", LEASE_EXPIRED)
    assert await jobs.complete(job_id, second.token, b"too late", at_us=T0 + 11 * S) is False


async def test_a_released_job_is_due_again_at_once_without_counting_the_attempt(jobs: JobStore) -> None:
    job_id = await enqueue(jobs, "k")
    (claim,) = await jobs.claim("w1", kinds=[MEM], lease_s=60, limit=1, at_us=T0)
    assert await jobs.release(job_id, claim.token, at_us=T0 + S) is True
    job = await jobs.get("o1", job_id)
    assert job is not None and (job.status, job.attempts) == ("PENDING", 0)
    (again,) = await jobs.claim("w2", kinds=[MEM], lease_s=60, limit=1, at_us=T0 + S)
    assert again.job.id == job_id and again.job.attempts == 1 and again.token > claim.token


async def test_a_job_is_read_only_by_its_own_organization(jobs: JobStore) -> None:
    job_id = await enqueue(jobs, "k", org="org_a")
    assert await jobs.get("org_b", job_id) is None
    assert await jobs.get("org_a", "job_000000000000000000000000") is None
    job = await jobs.get("org_a", job_id)
    assert job is not None and job.org == "org_a"


async def test_a_job_outlives_the_store_being_closed_and_reopened(queue: Queue) -> None:
    jobs = await queue.another()
    waiting = await enqueue(jobs, "waiting")
    held = await enqueue(jobs, "held", at=T0 + 1)
    (claim,) = await jobs.claim("w-dead", kinds=[MEM], lease_s=30, limit=1, at_us=T0 + 2)
    assert claim.job.id == waiting
    (claim,) = await jobs.claim("w-dead", kinds=[MEM], lease_s=30, limit=1, at_us=T0 + 3)
    assert claim.job.id == held

    jobs = await queue.reopen()  # the process is gone; its leases are in the store
    job = await jobs.get("o1", held)
    assert job is not None and (job.status, job.payload) == ("IN_PROGRESS", b"payload of held")
    assert await jobs.claim("w-new", kinds=[MEM], lease_s=30, limit=5, at_us=T0 + 29 * S) == []
    claims = await jobs.claim("w-new", kinds=[MEM], lease_s=30, limit=5, at_us=T0 + 31 * S)
    assert sorted(c.job.id for c in claims) == sorted([waiting, held])
    for c in claims:
        assert await jobs.complete(c.job.id, c.token, b"ok", at_us=T0 + 32 * S)
    assert await enqueue(jobs, "held", at=T0 + 33 * S) == held  # the key is still taken


async def test_finished_jobs_are_kept_for_their_status_then_purged(jobs: JobStore) -> None:
    done = await enqueue(jobs, "done")
    failed = await enqueue(jobs, "failed")
    pending = await enqueue(jobs, "pending", at=T0 + 10 * S)
    for claim in await jobs.claim("w", kinds=[MEM], lease_s=60, limit=2, at_us=T0):
        if claim.job.id == done:
            assert await jobs.complete(done, claim.token, b"r", at_us=T0)
        else:
            assert await jobs.fail(failed, claim.token, "e", at_us=T0, final=True) == "FAILED"
    assert await jobs.purge(T0 + POLICY.keep_us - 1) == 0
    assert await jobs.get("o1", done) is not None
    assert await jobs.purge(T0 + POLICY.keep_us) == 2
    assert await jobs.get("o1", done) is None and await jobs.get("o1", failed) is None
    job = await jobs.get("o1", pending)
    assert job is not None and job.status == "PENDING"  # never purged before it ran


async def test_a_job_is_bounded_in_what_it_carries(jobs: JobStore) -> None:
    with pytest.raises(ValueError, match="payload"):
        await jobs.enqueue("o1", MEM, "big", b"x" * (MAX_PAYLOAD_BYTES + 1), at_us=T0)
    with pytest.raises(ValueError, match="attempt"):
        await jobs.enqueue("o1", MEM, "none", b"x", at_us=T0, max_attempts=0)
    job_id = await enqueue(jobs, "k")
    claims = await jobs.claim("w", kinds=[MEM], lease_s=60, limit=1000, at_us=T0)
    with pytest.raises(ValueError, match="result"):
        await jobs.complete(job_id, claims[0].token, b"x" * (MAX_RESULT_BYTES + 1), at_us=T0)
    assert await jobs.fail(job_id, claims[0].token, "e" * 5000, at_us=T0) == "PENDING"
    job = await jobs.get("o1", job_id)
    assert job is not None and job.error == "e" * MAX_ERROR_CHARS


async def test_a_store_opened_with_another_policy_retries_by_it(queue: Queue) -> None:
    jobs = await queue.another(RetryPolicy(max_attempts=1, base_delay_us=S, max_delay_us=S, keep_us=S))
    job_id = await enqueue(jobs, "k")
    (claim,) = await jobs.claim("w", kinds=[MEM], lease_s=60, limit=1, at_us=T0)
    assert await jobs.fail(job_id, claim.token, "once", at_us=T0) == "FAILED"
