"""How the SQLite store runs its statements: one writer thread with group commit, reader threads.

Writes: one thread owns the write connection. It takes every write waiting in its queue, runs each
inside its own SAVEPOINT within one `BEGIN IMMEDIATE` transaction, commits once, and only then
answers each caller. A write is acknowledged only after the commit that made it durable, so the
promise is the same as one transaction each; the fsync is shared by all the turns of the batch.
A write that fails (a rule refuses it) is rolled back to its savepoint without touching the others.
Across processes, `BEGIN IMMEDIATE` takes SQLite's file lock, which orders the batches of all
workers. SQLite has no way to wait for that lock but to poll it, so the workers' writers first take
a `flock` of a file beside the database (`<db>.writer`), which the kernel hands to the next waiter
the moment its holder lets go; polling is left for writers of other programs.

Reads: WAL mode lets readers run beside the writer, so reads go to a small pool of threads with a
connection each, and never wait behind a commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gateway.errors import GatewayError, StoreUnavailable

_MAX_BATCH = 128


class _Job:
    __slots__ = ("fn", "future", "keep_on_refusal", "loop")

    def __init__(
        self, fn: Callable[[sqlite3.Connection], Any], keep_on_refusal: bool, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.fn = fn
        self.keep_on_refusal = keep_on_refusal
        self.loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()


def _deliver(job: _Job, result: Any, error: BaseException | None) -> None:
    # RuntimeError: the caller's event loop is closed, so nobody is waiting.
    with contextlib.suppress(RuntimeError):
        job.loop.call_soon_threadsafe(_settle, job.future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller went away (cancelled); the write stands, nobody to tell
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class _WriterLock:
    """An exclusive `flock` of one file, shared by every writer of the database, waited for with a
    bound.

    `flock` has no timeout, so a wait that would block is made on a helper thread of its own: the
    writer waits for it at most its deadline and then gives up; a lock the helper takes after that
    is let go at once. Only the writer thread calls `acquire` and `release`.
    """

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._mu = threading.Lock()
        self._got = threading.Event()
        self._waiting = False  # the helper is blocked in `flock`
        self._wanted = False  # and the writer still waits for it
        self._requests: queue.SimpleQueue[bool] = queue.SimpleQueue()
        self._helper = threading.Thread(target=self._help, name="sqlite-write-lock", daemon=True)
        self._helper.start()

    def acquire(self, timeout_s: float) -> bool:
        """True once this process holds the lock; False when `timeout_s` passed first."""
        with self._mu:
            if not self._waiting:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    self._waiting = True
                    self._requests.put(True)
            self._wanted = True
        self._got.wait(timeout_s)
        with self._mu:
            self._wanted = False
            if self._got.is_set():
                self._got.clear()
                return True
            return False

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Let the helper go (a helper still blocked is a daemon thread: it dies with the process)."""
        self._requests.put(False)
        with self._mu:
            if not self._waiting:
                os.close(self._fd)

    def _help(self) -> None:
        while self._requests.get():
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            with self._mu:
                self._waiting = False
                if self._wanted:
                    self._got.set()
                else:  # the writer gave up meanwhile
                    fcntl.flock(self._fd, fcntl.LOCK_UN)


class SqliteEngine:
    def __init__(self, path: str, *, busy_timeout_ms: int, synchronous: str, readers: int = 2) -> None:
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._synchronous = synchronous
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._local = threading.local()
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="sqlite-read")
        self._reader_conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._open = False
        self._writer_lock: _WriterLock | None = None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        db.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute(f"PRAGMA synchronous = {self._synchronous}")
        return db

    # -- life -----------------------------------------------------------------------------------

    async def open(self, schema: str, migrate: Callable[[sqlite3.Connection], None] | None = None) -> None:
        """Start the writer; the schema (and `migrate`, for files of earlier versions) is applied
        in one transaction."""
        directory = os.path.dirname(self._path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        loop = asyncio.get_running_loop()
        self._writer_lock = writer_lock = _WriterLock(self._path + ".writer")

        def run() -> None:
            try:
                db = self._connect()
                # Several workers may start at once: the schema is made under the write lock.
                db.executescript("BEGIN IMMEDIATE;" + schema)
                if migrate is not None:
                    migrate(db)
                db.execute("COMMIT")
                db.execute("PRAGMA busy_timeout = 0")  # the writer polls for the lock itself
            except BaseException as exc:  # noqa: BLE001 - reported to `open`'s caller
                writer_lock.close()
                loop.call_soon_threadsafe(_settle, ready, None, exc)
                return
            loop.call_soon_threadsafe(_settle, ready, None, None)
            try:
                self._write_loop(db, writer_lock)
            finally:
                writer_lock.close()

        self._writer = threading.Thread(target=run, name="sqlite-write", daemon=True)
        self._writer.start()
        try:
            await ready
        except sqlite3.Error as exc:
            raise StoreUnavailable("The thread store cannot be opened.") from exc
        self._open = True

    async def close(self) -> None:
        if self._writer is not None:
            self._queue.put(None)
            await asyncio.to_thread(self._writer.join)
            self._writer = None
        self._open = False
        self._readers.shutdown(wait=True)
        with self._lock:
            for db in self._reader_conns:
                db.close()
            self._reader_conns.clear()

    # -- reads ----------------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            self._local.db = db
            with self._lock:
                self._reader_conns.append(db)
        return db

    async def read[T](self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if not self._open:
            raise StoreUnavailable("The thread store is not open.")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._readers, lambda: fn(self._reader()))
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable("The thread store is unavailable.") from exc

    def read_here[T](self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn` on the calling thread (the event loop), on a connection of that thread's own that
        never waits for a lock: `sqlite3.OperationalError` when it would, and the caller reads
        through `read` instead.

        Only for reads that touch a few pages the process has just used (a thread's row and the
        messages added since its last turn here): the hand-off to a reader thread and back costs
        more than such a read.
        """
        if not self._open:
            raise StoreUnavailable("The thread store is not open.")
        db: sqlite3.Connection | None = getattr(self._local, "here", None)
        if db is None:
            db = self._connect()
            db.execute("PRAGMA busy_timeout = 0")
            self._local.here = db
            with self._lock:
                self._reader_conns.append(db)
        return fn(db)

    async def point_read[T](self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`read_here`, or `read` when that would wait for a lock."""
        try:
            return self.read_here(fn)
        except sqlite3.OperationalError:
            return await self.read(fn)

    # -- writes ---------------------------------------------------------------------------------

    async def write[T](self, fn: Callable[[sqlite3.Connection], T], *, keep_on_refusal: bool = False) -> T:
        """Run `fn` in the next committed batch.

        `keep_on_refusal`: when `fn` raises a `GatewayError` (a rule refused), what it wrote before
        raising is kept, not rolled back. Operations that use it write nothing of their own before a
        refusal, except the purge of an expired thread they found, which must stand.
        """
        if not self._open:
            raise StoreUnavailable("The thread store is not open.")
        job = _Job(fn, keep_on_refusal, asyncio.get_running_loop())
        self._queue.put(job)
        try:
            result: T = await job.future
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable("The thread store is unavailable.") from exc
        return result

    def _write_loop(self, db: sqlite3.Connection, writer_lock: _WriterLock) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < _MAX_BATCH:
                    try:
                        job = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        stop = True
                        break
                    batch.append(job)
                self._locked_batch(db, writer_lock, batch)
                if stop:
                    return
        finally:
            db.close()

    def _locked_batch(self, db: sqlite3.Connection, writer_lock: _WriterLock, batch: list[_Job]) -> None:
        """`_run_batch` holding the writers' lock, taken within the busy timeout."""
        deadline = time.monotonic() + self._busy_timeout_ms / 1000
        if not writer_lock.acquire(self._busy_timeout_ms / 1000):
            error = sqlite3.OperationalError("another writer holds the database for too long")
            for job in batch:
                _deliver(job, None, error)
            return
        try:
            self._run_batch(db, batch, deadline)
        finally:
            writer_lock.release()

    def _begin(self, db: sqlite3.Connection, deadline: float) -> None:
        """Take SQLite's write lock by `deadline`, polling every half millisecond while another
        program holds it (the gateway's own writers are kept apart by the writers' lock before).

        SQLite's own busy handler backs off to sleeps of up to 100 ms, which turns two workers'
        alternating commits into tens of milliseconds of added latency; the writer connection has
        no busy timeout and waits here instead, up to the configured bound.
        """
        while True:
            try:
                db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                    raise
            time.sleep(0.0005)

    def _run_batch(self, db: sqlite3.Connection, batch: list[_Job], deadline: float) -> None:
        """One transaction for the batch, one commit, then every caller answered.

        The jobs run first without savepoints (each costs two statements, and each statement hands
        the GIL back and forth). If a job fails in a way that must undo its own writes, the whole
        transaction is rolled back and the batch is run again with a savepoint around each job.
        Jobs only touch the database, so running one again is safe.
        """
        if not self._begin_batch(db, batch, deadline):
            return
        outcomes = self._run_jobs(db, batch, savepoints=False)
        if outcomes is None:
            db.execute("ROLLBACK")
            if not self._begin_batch(db, batch, deadline):
                return
            outcomes = self._run_jobs(db, batch, savepoints=True)
        assert outcomes is not None
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            outcomes = [(job, None, exc) for job, _, _ in outcomes]
        for job, result, error in outcomes:
            _deliver(job, result, error)

    def _begin_batch(self, db: sqlite3.Connection, batch: list[_Job], deadline: float) -> bool:
        """Take the write lock for `batch`; when it cannot be had, every job is told why."""
        try:
            self._begin(db, deadline)
        except sqlite3.Error as exc:
            for job in batch:
                _deliver(job, None, exc)
            return False
        return True

    def _run_jobs(
        self, db: sqlite3.Connection, batch: list[_Job], *, savepoints: bool
    ) -> list[tuple[_Job, Any, BaseException | None]] | None:
        """Each job's outcome; None when, without savepoints, a job's writes would need undoing."""
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        for job in batch:
            if savepoints:
                db.execute("SAVEPOINT job")
            try:
                result = job.fn(db)
            except BaseException as exc:  # noqa: BLE001 - delivered to the caller
                keep = isinstance(exc, GatewayError) and job.keep_on_refusal
                if not savepoints:
                    if not keep:
                        return None
                else:
                    if not keep:
                        db.execute("ROLLBACK TO job")
                    db.execute("RELEASE job")
                outcomes.append((job, None, exc))
            else:
                if savepoints:
                    db.execute("RELEASE job")
                outcomes.append((job, result, None))
        return outcomes
