"""The job queue as one aggregate of a backend (`backend.jobs`): opened with the store, fed by a
turn's write in the same atomic step (the outbox), and purged with the rest of what expired."""

from __future__ import annotations

import pytest

from gateway.core.records import MessageRecord, Usage
from gateway.core.rules import apply_turn
from gateway.ids import new_id
from gateway.store.jobs import RetryPolicy, new_job
from gateway.store.protocols import Backend, TurnWrite
from tests.integration.store_contract.helpers import LIMITS, T0, S, response, thread


def write_with_job(org: str, tid: str, key: str, *, fail: bool = False) -> tuple[TurnWrite, str]:
    rid = new_id("resp")
    job = new_job(org, "memory.write", key, b"{}", at_us=T0, policy=RetryPolicy(), max_attempts=None)

    def update(t):  # type: ignore[no-untyped-def]
        if fail:
            raise ValueError("refused")
        return apply_turn(t, adding=1, usage=Usage(), next_state=None, limits=LIMITS, at_us=T0)

    msg = MessageRecord(id=new_id("msg"), role="user", texts=("hi",), response_id=rid, created_us=T0)
    write = TurnWrite(
        org=org,
        thread_id=tid,
        create=thread(org, tid),
        messages=[msg],
        response=response(org, rid, thread_id=tid),
        update=update,
        at_us=T0,
        jobs=[job],
    )
    return write, job.id


async def test_a_turn_enqueues_its_jobs_in_its_own_write(store: Backend) -> None:
    write, job_id = write_with_job("o1", "thread_a", "k1")
    await store.threads.append_turn(write)
    job = await store.jobs.get("o1", job_id)
    assert job is not None and job.status == "PENDING" and job.kind == "memory.write"
    assert await store.jobs.get("o2", job_id) is None  # another organization's job is not found


async def test_a_refused_turn_enqueues_nothing(store: Backend) -> None:
    write, job_id = write_with_job("o1", "thread_b", "k2", fail=True)
    with pytest.raises(ValueError):
        await store.threads.append_turn(write)
    assert await store.jobs.get("o1", job_id) is None


async def test_finished_jobs_are_purged_with_the_store(store: Backend) -> None:
    job_id = await store.jobs.enqueue("o1", "k", "key", b"", at_us=T0)
    [claim] = await store.jobs.claim("w", kinds=["k"], lease_s=30, limit=1, at_us=T0)
    assert await store.jobs.complete(job_id, claim.token, b"ok", at_us=T0)
    await store.purge_expired(T0 + 1 * S)
    assert await store.jobs.get("o1", job_id) is not None  # kept for status reads
    await store.purge_expired(T0 + RetryPolicy().keep_us + 1 * S)
    assert await store.jobs.get("o1", job_id) is None
