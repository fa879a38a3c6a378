"""kill -9 of a worker holding a job: after it, new worker processes finish the job exactly once.

The first process enqueues a job and claims it (its handler notes `started`, then hangs); it is
killed with SIGKILL, so nothing of it runs again. Two new processes start at once on the same store;
once the dead worker's lease has run out one of them takes the job over and completes it. The job
is COMPLETED on its second attempt, by one process, with that process's result.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from gateway.store.jobs import JobStore
from tests.integration.jobs_contract.conftest import Queue
from tests.integration.jobs_contract.worker_main import KEY, KIND, ORG

ROOT = Path(__file__).resolve().parents[3]


async def spawn(queue: Queue, role: str, marks: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.jobs_contract.worker_main",
        queue.name,
        queue.target,
        queue.database or "-",
        role,
        str(marks),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


def lines(marks: Path, word: str) -> list[str]:
    if not marks.exists():
        return []
    return [line.split()[1] for line in marks.read_text().splitlines() if line.split()[0] == word]


async def test_a_job_claimed_by_a_killed_worker_is_finished_once_by_the_next(
    queue: Queue, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    first = await spawn(queue, "start", marks)
    deadline = time.monotonic() + 30
    while not lines(marks, "started"):
        assert first.returncode is None, (await first.communicate())[0]
        assert time.monotonic() < deadline, "the first worker never started the job"
        await asyncio.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)
    assert await first.wait() == -signal.SIGKILL

    finishers = [await spawn(queue, "finish", marks) for _ in range(2)]
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in finishers)), 60)
    assert [p.returncode for p in finishers] == [0, 0], outputs

    assert lines(marks, "started") == [str(first.pid)]
    (done_by,) = lines(marks, "done")  # exactly once, in one of the two
    assert int(done_by) in {p.pid for p in finishers}
    jobs: JobStore = await queue.another()
    job_id = await jobs.enqueue(ORG, KIND, KEY, b"ignored", at_us=0)  # the key's one job
    job = await jobs.get(ORG, job_id)
    assert job is not None
    assert (job.status, job.attempts, job.payload) == ("COMPLETED", 2, b"remember: peanuts")
    assert job.result == f"finished by {done_by}".encode()
