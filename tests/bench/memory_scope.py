"""Memory retrieval at 10,000 memories in one scope (SPEC §12):
`python -m tests.bench.memory_scope [sqlite] [mongodb] [--smoke]`.

Prints, on SQLite and on the MongoDB wire server: the time to write the memories, the first search
of a process (the scope's vectors read and its index built), and a search while the process's index
is current (one point read of the scope's version plus the exact top-5), median and p99.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import uuid

import numpy as np

from gateway.core.memory_index import ScopeIndexes
from gateway.core.memory_records import MemoryRecord
from gateway.core.vectors import Matrix, to_bytes
from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.store import MongoStore
from gateway.store.protocols import Backend
from gateway.store.sqlite.store import SqliteStore
from tests.integration.store_contract.helpers import LIMITS
from tests.services import mongo_uri

DIMENSIONS = 384  # the local embedding model's (providers.local_embed)


def unit_vectors(n: int, seed: int = 7) -> Matrix:
    """`n` random unit vectors of `DIMENSIONS` float32 (a query scores about 0 against them)."""
    vectors = np.random.default_rng(seed).standard_normal((n, DIMENSIONS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def memory_record(
    org: str, assistant_id: str, i: int, vector: Matrix, user: str | None, *, at_us: int = 0
) -> MemoryRecord:
    """The `i`th memory of a made-up scope, with `vector` as its embedding, made at `at_us` + i."""
    return MemoryRecord(
        org=org,
        assistant_id=assistant_id,
        id=str(uuid.uuid4()),
        user=user,
        text=f"memory {i}",
        embedding=to_bytes(vector),
        created_us=at_us + i,
        updated_us=at_us + i,
    )


async def measure(store: Backend, n: int, queries: int) -> dict[str, float]:
    vectors = unit_vectors(n)
    start = time.perf_counter()
    for i in range(n):
        await store.memories.add_memory(memory_record("o1", "asst_bench", i, vectors[i], f"user{i % 50}"))
    written = time.perf_counter() - start
    start = time.perf_counter()
    await store.memories.scope_vectors("o1", "asst_bench")
    read = time.perf_counter() - start
    indexes = ScopeIndexes(store.memories)
    start = time.perf_counter()
    await indexes.search("o1", "asst_bench", vectors[0], k=5, floor=0.25, user="user0")
    first = time.perf_counter() - start
    times = []
    for q in range(queries):
        start = time.perf_counter()
        await indexes.search("o1", "asst_bench", vectors[q % n], k=5, floor=0.25, user=f"user{q % 50}")
        times.append(time.perf_counter() - start)
    times.sort()
    return {
        "write_s": written,
        "read_vectors_ms": read * 1000,
        "first_ms": first * 1000,
        "median_ms": statistics.median(times) * 1000,
        "p99_ms": times[int(len(times) * 0.99) - 1] * 1000,
    }


async def main(smoke: bool, backends: set[str]) -> None:
    n, queries = (500, 50) if smoke else (10_000, 500)
    if "sqlite" in backends:
        await on_sqlite(n, queries)
    if "mongodb" in backends:
        await on_mongodb(n, queries)


async def on_sqlite(n: int, queries: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SqliteStore(f"{tmp}/gateway.sqlite3", LIMITS)
        await sqlite.open()
        try:
            print("sqlite ", n, await measure(sqlite, n, queries))
        finally:
            await sqlite.close()


async def on_mongodb(n: int, queries: int) -> None:
    async with mongo_uri() as uri:
        mongo = MongoStore(MongoDatabase(uri, LIMITS, database=f"bench_{uuid.uuid4().hex[:8]}", timeout_s=60))
        await mongo.open()
        try:
            print("mongodb", n, await measure(mongo, n, queries))
        finally:
            await mongo.close()


if __name__ == "__main__":
    chosen = {a for a in sys.argv[1:] if a in ("sqlite", "mongodb")} or {"sqlite", "mongodb"}
    asyncio.run(main("--smoke" in sys.argv, chosen))
