"""The SQLite engine's group commit (gateway.store.sqlite_engine): a batch of writes shares one
transaction, and a failing write undoes only its own changes."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.errors import StoreUnavailable, ThreadNotFound
from gateway.store.sqlite.engine import SqliteEngine

SCHEMA = "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER NOT NULL);"


def put(k: str, v: int = 1, fail: BaseException | None = None):  # type: ignore[no-untyped-def]
    def op(db: sqlite3.Connection) -> str:
        db.execute("INSERT INTO t (k, v) VALUES (?, ?)", (k, v))
        if fail is not None:
            raise fail
        return k

    return op


async def one_batch(engine: SqliteEngine, *jobs: tuple[object, bool]) -> list[object]:
    """Run `jobs` as one batch: the writer is held inside a write of its own until all are queued."""
    started, release = threading.Event(), threading.Event()

    def hold(db: sqlite3.Connection) -> None:
        started.set()
        release.wait(30)

    busy = asyncio.ensure_future(engine.write(hold))
    assert await asyncio.to_thread(started.wait, 30)  # the writer is in `hold`: its batch is closed
    loop = asyncio.get_running_loop()
    # Started eagerly: each `write` queues its job before create returns, so all wait for one batch.
    tasks = [
        asyncio.eager_task_factory(loop, engine.write(fn, keep_on_refusal=keep))  # type: ignore[arg-type]
        for fn, keep in jobs
    ]
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    await busy
    return results


@pytest.fixture
async def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    e = SqliteEngine(str(tmp_path / "e.sqlite3"), busy_timeout_ms=5000, synchronous="FULL")
    await e.open(SCHEMA)
    yield e
    await e.close()


async def rows(engine: SqliteEngine) -> dict[str, int]:
    return dict(await engine.read(lambda db: db.execute("SELECT k, v FROM t").fetchall()))


async def test_a_batch_of_successes_commits_together(engine: SqliteEngine) -> None:
    results = await one_batch(engine, *((put(f"k{i}"), False) for i in range(20)))
    assert results == [f"k{i}" for i in range(20)]
    assert await rows(engine) == {f"k{i}": 1 for i in range(20)}


async def test_a_failing_write_undoes_only_its_own_changes(engine: SqliteEngine) -> None:
    results = await one_batch(
        engine,
        (put("a"), False),
        (put("refused", fail=ThreadNotFound("x")), False),  # a refusal: its insert is undone
        (put("kept", fail=ThreadNotFound("y")), True),  # a refusal that keeps what it wrote
        (put("bug", fail=ValueError("boom")), True),  # not a refusal: always undone
        (put("a"), False),  # a constraint violation: undone, reported
        (put("b"), False),
    )
    assert results[0] == "a" and results[5] == "b"
    assert isinstance(results[1], ThreadNotFound)
    assert isinstance(results[2], ThreadNotFound)
    assert isinstance(results[3], ValueError)
    assert isinstance(results[4], sqlite3.IntegrityError)
    assert await rows(engine) == {"a": 1, "kept": 1, "b": 1}


async def test_a_refusal_that_keeps_its_writes_needs_no_second_run(engine: SqliteEngine) -> None:
    runs: list[str] = []

    def counted(k: str, fail: BaseException | None = None):  # type: ignore[no-untyped-def]
        inner = put(k, fail=fail)

        def op(db: sqlite3.Connection) -> str:
            runs.append(k)
            return inner(db)  # type: ignore[no-any-return]

        return op

    await one_batch(engine, (counted("x"), False), (counted("y", fail=ThreadNotFound("y")), True))
    assert runs == ["x", "y"]  # one pass, no rollback and rerun
    await one_batch(engine, (counted("z"), False), (counted("w", fail=ThreadNotFound("w")), False))
    assert runs[2:] == ["z", "w", "z", "w"]  # undone, then run again with savepoints
    assert await rows(engine) == {"x": 1, "y": 1, "z": 1}


# -- the writers' lock: engines (worker processes) on one file wait for each other without polling


async def test_engines_on_one_file_take_turns_at_the_writers_lock(tmp_path: Path) -> None:
    """A second engine's write waits while the first is inside a batch, and runs the moment the
    first lets go (the kernel hands the lock over: the wait is not a poll of half a millisecond)."""
    path = str(tmp_path / "e.sqlite3")
    first = SqliteEngine(path, busy_timeout_ms=5000, synchronous="FULL")
    second = SqliteEngine(path, busy_timeout_ms=5000, synchronous="FULL")
    await first.open(SCHEMA)
    await second.open(SCHEMA)
    try:
        inside, release = threading.Event(), threading.Event()
        order: list[str] = []

        def hold(db: sqlite3.Connection) -> None:
            inside.set()
            release.wait(30)
            order.append("first")

        def after(db: sqlite3.Connection) -> None:
            order.append("second")

        held = asyncio.ensure_future(first.write(hold))
        assert await asyncio.to_thread(inside.wait, 30)
        waiting = asyncio.ensure_future(second.write(after))
        await asyncio.sleep(0.2)
        assert not waiting.done() and order == []  # the second writer waits for the first's batch
        release.set()
        await asyncio.gather(held, waiting)
        assert order == ["first", "second"]
    finally:
        await first.close()
        await second.close()


@contextlib.asynccontextmanager
async def engine_beside_another_holder(
    tmp_path: Path, busy_timeout_ms: int
) -> AsyncIterator[tuple[SqliteEngine, int]]:
    """An engine, and a descriptor of its writers' lock file as another process would hold it."""
    path = str(tmp_path / "e.sqlite3")
    engine = SqliteEngine(path, busy_timeout_ms=busy_timeout_ms, synchronous="FULL")
    await engine.open(SCHEMA)
    other = os.open(path + ".writer", os.O_RDWR)
    try:
        yield engine, other
    finally:
        os.close(other)
        await engine.close()


async def test_a_writer_held_out_past_the_busy_timeout_is_refused_and_recovers(tmp_path: Path) -> None:
    """Another holder of the writers' lock keeps it past the busy timeout: the batch is refused
    with StoreUnavailable (not left waiting), the lock taken late by the helper is let go, so the
    holder can take it again, and the next write after the holder is gone commits."""
    async with engine_beside_another_holder(tmp_path, 300) as (engine, other):
        fcntl.flock(other, fcntl.LOCK_EX)
        started = asyncio.get_running_loop().time()
        with pytest.raises(StoreUnavailable):
            await engine.write(put("refused"))
        assert asyncio.get_running_loop().time() - started >= 0.29
        fcntl.flock(other, fcntl.LOCK_UN)
        # The helper takes the lock nobody waits for now, and lets it go: free again soon.
        deadline = asyncio.get_running_loop().time() + 5
        while True:
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                assert asyncio.get_running_loop().time() < deadline, "the helper kept the lock"
                await asyncio.sleep(0.01)
        fcntl.flock(other, fcntl.LOCK_UN)
        assert await engine.write(put("later")) == "later"
        assert await rows(engine) == {"later": 1}


async def test_a_writer_gets_the_lock_as_soon_as_another_holder_lets_go(tmp_path: Path) -> None:
    async with engine_beside_another_holder(tmp_path, 5000) as (engine, other):
        fcntl.flock(other, fcntl.LOCK_EX)
        waiting = asyncio.ensure_future(engine.write(put("a")))
        await asyncio.sleep(0.2)
        assert not waiting.done()  # held out by the other holder
        fcntl.flock(other, fcntl.LOCK_UN)
        assert await asyncio.wait_for(waiting, 5) == "a"
        assert await engine.write(put("b")) == "b"  # and taken again without the helper
        assert await rows(engine) == {"a": 1, "b": 1}
