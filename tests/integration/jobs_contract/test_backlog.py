"""The queue's backlog (`JobStore.backlog`, read by `/metrics`), on every backend: unfinished jobs
(pending, retried or running) counted by kind over every organization, with the oldest one's
enqueue time; finished jobs (completed or failed for good) and other kinds left out."""

from __future__ import annotations

from gateway.store.jobs import Backlog, JobStore
from tests.integration.jobs_contract.conftest import T0, S

MEM, SUM = "memory.write", "thread.summary"


async def test_the_backlog_counts_unfinished_jobs_by_kind_with_the_oldest(jobs: JobStore) -> None:
    assert await jobs.backlog([MEM, SUM]) == {}
    await jobs.enqueue("o1", MEM, "a", b"p", at_us=T0 + 3 * S)
    await jobs.enqueue("o2", MEM, "b", b"p", at_us=T0 + 1 * S)  # another organization: counted too
    await jobs.enqueue("o1", MEM, "c", b"p", at_us=T0 + 5 * S)
    await jobs.enqueue("o1", SUM, "d", b"p", at_us=T0 + 7 * S)
    await jobs.enqueue("o1", "other.kind", "e", b"p", at_us=T0)
    assert await jobs.backlog([MEM, SUM]) == {
        MEM: Backlog(count=3, oldest_us=T0 + 1 * S),
        SUM: Backlog(count=1, oldest_us=T0 + 7 * S),
    }
    assert await jobs.backlog([SUM]) == {SUM: Backlog(count=1, oldest_us=T0 + 7 * S)}
    assert await jobs.backlog([]) == {}

    # Claimed and running: still unfinished. Retried after a failure: still unfinished.
    claims = await jobs.claim("w", kinds=[MEM], lease_s=10, limit=2, at_us=T0 + 10 * S)
    assert len(claims) == 2
    first, second = claims
    assert (await jobs.backlog([MEM]))[MEM].count == 3
    assert await jobs.fail(second.job.id, second.token, "boom", at_us=T0 + 11 * S) == "PENDING"
    assert (await jobs.backlog([MEM]))[MEM].count == 3
    # Completed, or failed for good: gone from the backlog, and the oldest moves on.
    assert await jobs.complete(first.job.id, first.token, b"done", at_us=T0 + 12 * S)
    assert first.job.created_us == T0 + 1 * S
    after = await jobs.backlog([MEM])
    assert after == {MEM: Backlog(count=2, oldest_us=T0 + 3 * S)}
    (again,) = [
        c
        for c in await jobs.claim("w", kinds=[MEM], lease_s=10, limit=5, at_us=T0 + 60 * S)
        if c.job.id == second.job.id
    ]
    assert await jobs.fail(again.job.id, again.token, "bad", at_us=T0 + 61 * S, final=True) == "FAILED"
    assert await jobs.backlog([MEM]) == {MEM: Backlog(count=1, oldest_us=T0 + 5 * S)}
