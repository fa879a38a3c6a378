"""The SQLite engine's group commit (gateway.store.sqlite_engine): a batch of writes shares one
transaction, and a failing write undoes only its own changes."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from gateway.errors import ThreadNotFound
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
