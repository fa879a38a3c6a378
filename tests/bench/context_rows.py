"""The benchmark's rows of what memory and summaries add to a turn (SPEC §12), on a gateway of their
own (its job queue, its embedding model and its RSS apart from the other rows'):

- memory: an assistant in `readonly` mode whose scope holds 10,000 memories, five of them about the
  turn's question (made through the API, so the gateway embeds them) and the rest random unit
  vectors written straight into the SQLite file (through the API each would be embedded, about
  150 a second). Its turns, paced on new threads and with wrk on threads of 10, are compared with
  the same turns without an assistant (`Result.versus`).
- summaries: threads longer than the window, each summarized before the measurement (a first turn
  queues the job; the rows wait until every job is done), then turns on them with wrk.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx

from gateway.store.sqlite.store import SqliteStore
from tests.bench.data import KEY, MODEL, ORG, seed, seed_items, turn
from tests.bench.load import Result, paced, wrk
from tests.bench.memory_scope import memory_record, unit_vectors
from tests.integration.store_contract.helpers import LIMITS

RELEVANT = (
    "The northern region's revenue grew by 4 percent last quarter.",
    "The user reports on the northern region's figures every quarter.",
    "The user wants summaries kept to two sentences.",
    "Last quarter the northern region's costs fell by 2 percent.",
    "The northern region's quarterly figures are published in the first week of the next month.",
)
_WRITE_BATCH = 500  # memories a store write batch (one transaction) holds
_SUMMARY_WAIT_S = 120


def memory_rows(
    gw: str, data: Path, work: Path, *, seconds: float, paced_seconds: float, memories: int
) -> list[Result]:
    """Turns of a `readonly` assistant over `memories` memories: paced 200/s and 100/s on new
    threads, and with wrk on 64 threads of 10."""
    with httpx.Client(base_url=gw, headers={"X-API-Key": KEY}, timeout=60) as http:
        made = http.post(
            "/v1/assistants", json={"name": "bench memory", "memory": "readonly", "model": MODEL}
        )
        made.raise_for_status()
        assistant: str = made.json()["id"]
        for text in RELEVANT:
            http.post(f"/v1/assistants/{assistant}/memories", json={"memory": text}).raise_for_status()
        asyncio.run(write_memories(data / "gateway.sqlite3", assistant, memories - len(RELEVANT)))
        total = http.get(f"/v1/assistants/{assistant}/memories", params={"limit": 1}).json()["total"]
        if total != memories:
            raise RuntimeError(f"the assistant holds {total} memories, not {memories}")
        # 320 turns 64 at a time: every worker loads its embedding model and builds the scope's
        # index (at its version after the writes above) before anything is measured.
        threads = seed(gw, MODEL, 64, 10, assistant_id=assistant)
        answer = http.post("/v1/model/response", content=turn(MODEL, thread=threads[0])).json()
    found = len(answer.get("retrieved_memories") or ())
    if not found:
        raise RuntimeError(f"a turn of the memory assistant retrieved no memories: {answer}")
    name = f"gateway openai, memory readonly over {memories:,} memories"
    # Paced at the rates of the rows without memory (each turn embeds its question: at 200/s that
    # is most of a core on its own), then with wrk.
    out = [
        paced(
            f"{name}, new thread per turn, paced {rate}/s",
            gw,
            "/v1/model/response",
            turn(MODEL, assistant_id=assistant),
            seconds=paced_seconds,
            rate=rate,
        )
        for rate in (200, 100)
    ]
    out[0].baseline, out[0].versus = (
        "direct upstream, paced 200/s",
        "gateway openai, new thread per turn, paced 200/s",
    )
    out[1].baseline, out[1].versus = (
        "direct upstream, paced 200/s",
        "gateway openai, non-streaming, paced 100/s",
    )
    out.append(
        wrk(
            f"{name}, thread of 10, 64 conns",
            gw,
            "/v1/model/response",
            [turn(MODEL, thread=t) for t in threads],
            seconds=seconds,
            connections=64,
            work=work,
        )
    )
    out[2].baseline, out[2].versus = "direct upstream, 64 conns", "gateway openai, thread of 10, 64 conns"
    out[2].note = f"{found} retrieved a turn"
    return out


async def write_memories(path: Path, assistant_id: str, n: int) -> None:
    """`n` assistant-wide memories with random unit vectors (scoring about 0 against any query),
    written into the store file of a running gateway (SQLite's WAL is shared across processes; its
    workers see the scope's new version on their next search). Concurrent writes are committed in
    batches by the store's writer: seconds for 10,000."""
    store = SqliteStore(str(path), LIMITS)
    await store.open()
    try:
        vectors = unit_vectors(n)
        at_us = time.time_ns() // 1000
        for start in range(0, n, _WRITE_BATCH):
            await asyncio.gather(
                *(
                    store.memories.add_memory(
                        memory_record(ORG, assistant_id, i, vectors[i], None, at_us=at_us)
                    )
                    for i in range(start, min(n, start + _WRITE_BATCH))
                )
            )
    finally:
        await store.close()


def summary_row(gw: str, data: Path, work: Path, *, seconds: float, length: int) -> Result:
    """Turns with wrk on 64 threads of `length` messages (longer than the window), each with its
    summary made before the measurement."""
    threads = seed_items(gw, 64, length)
    first = turns(gw, threads)  # each queues its thread's summary job
    if any(a["is_summarized"] for a in first):
        raise RuntimeError("a thread had a summary before its first turn")
    wait_for_summaries(data / "gateway.sqlite3", threads)
    if not all(a["is_summarized"] for a in turns(gw, threads)):
        raise RuntimeError("a turn on a summarized thread was not given its summary")
    out = wrk(
        f"gateway openai, long thread with summaries ({length:,} messages), 64 conns",
        gw,
        "/v1/model/response",
        [turn(MODEL, thread=t) for t in threads],
        seconds=seconds,
        connections=64,
        work=work,
    )
    after = turns(gw, threads)
    out.baseline, out.versus = "direct upstream, 64 conns", f"gateway openai, thread of {length}, 64 conns"
    out.note = f"summarized after: {sum(1 for a in after if a['is_summarized'])}/{len(after)}"
    return out


def turns(gw: str, threads: list[str]) -> list[dict[str, Any]]:
    """One turn on each thread at once: the Freddy answers."""

    async def run() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=gw, headers={"X-API-Key": KEY}, timeout=60) as http:

            async def one(tid: str) -> dict[str, Any]:
                r = await http.post("/v1/model/response", content=turn(MODEL, thread=tid))
                r.raise_for_status()
                answer: dict[str, Any] = r.json()
                return answer

            return list(await asyncio.gather(*(one(t) for t in threads)))

    return asyncio.run(run())


def wait_for_summaries(path: Path, threads: list[str]) -> None:
    """Until each thread has its summary and no summary job is left to run (a job stores its
    summary piece by piece, so a summary exists before its job is done)."""
    deadline = time.monotonic() + _SUMMARY_WAIT_S
    marks = ",".join("?" * len(threads))
    with closing(sqlite3.connect(path)) as db:
        while True:
            (summarized,) = db.execute(
                f"SELECT count(*) FROM summaries WHERE org = ? AND thread_id IN ({marks})", (ORG, *threads)
            ).fetchone()
            (running,) = db.execute(
                "SELECT count(*) FROM jobs WHERE org = ? AND kind = 'thread.summary' "
                "AND status IN ('PENDING', 'IN_PROGRESS')",
                (ORG,),
            ).fetchone()
            if summarized == len(threads) and running == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"after {_SUMMARY_WAIT_S} s: {summarized}/{len(threads)} threads summarized, "
                    f"{running} summary jobs not done"
                )
            time.sleep(0.2)
