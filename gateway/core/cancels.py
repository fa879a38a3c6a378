"""Cancel of a running stream (SPEC §10), whichever worker process or replica it runs on.

A stream of a thread registers here while it runs. A cancel that reaches the same process stops it
at once; one that reaches another process is written to the store (`CancelStore`), which the
stream's process reads every `POLL_S` and answers there, where the cancel reads the answer back.

Freddy's two modes, by how long the stream has run: within `quick_edit_s` nothing is kept (the
client edits and sends its message again), after it the partial answer is saved with its inputs,
as one turn with the status `cancelled`. Either way nothing is left half written.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import msgspec
import structlog

from gateway.core.prepared import Prepared
from gateway.errors import NotFound, ThreadBusy, ThreadNotFound
from gateway.store.locks import TurnLocks
from gateway.store.protocols import CancelStore, ThreadStore

POLL_S = 0.25
# How long a cancel waits for the stream's process to answer it.
ANSWER_S = 10.0
_log = structlog.get_logger("gateway.cancels")


class CancelOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What a cancel did, in Freddy's fields (and the request it answers, for the store's copy)."""

    requested_us: int = 0
    success: bool = True
    cancel_mode: str
    elapsed_seconds: float
    user_message_deleted: bool
    assistant_response_deleted: bool
    partial_content_saved: bool


class Running:
    """One running stream: its start, and the cancel that may stop it."""

    def __init__(self, quick_edit_s: float) -> None:
        self.started = time.monotonic()
        self.requested_us: int | None = None
        self.outcome: asyncio.Future[CancelOutcome] = asyncio.get_running_loop().create_future()
        self._quick_edit_s = quick_edit_s
        self._bounds: set[asyncio.Timeout] = set()

    @property
    def cancelled(self) -> bool:
        return self.requested_us is not None

    def cancel(self, requested_us: int) -> None:
        """Stop the stream's wait for the model now."""
        if self.requested_us is not None:
            return
        self.requested_us = requested_us
        now = asyncio.get_running_loop().time()
        for bound in self._bounds:
            bound.reschedule(now)

    @contextlib.asynccontextmanager
    async def bound(self) -> AsyncIterator[None]:
        """One wait for the model, ended early by a cancel (it raises `TimeoutError` then)."""
        bound = asyncio.timeout_at(asyncio.get_running_loop().time() if self.cancelled else None)
        self._bounds.add(bound)
        try:
            async with bound:
                yield
        finally:
            self._bounds.discard(bound)

    def keeps_partial(self) -> bool:
        return time.monotonic() - self.started >= self._quick_edit_s

    def settle(self, *, kept: bool) -> CancelOutcome:
        outcome = CancelOutcome(
            requested_us=self.requested_us or 0,
            cancel_mode="keep_partial" if kept else "quick_edit",
            elapsed_seconds=round(time.monotonic() - self.started, 3),
            user_message_deleted=not kept,
            assistant_response_deleted=not kept,
            partial_content_saved=kept,
        )
        if not self.outcome.done():
            self.outcome.set_result(outcome)
        return outcome


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(CancelOutcome).decode


def _no_stream(thread_id: str) -> NotFound:
    return NotFound(f"No stream is running on thread '{thread_id}'.")


class Cancels:
    """The running streams of this process, and cancels across processes through the store."""

    def __init__(
        self,
        threads: ThreadStore,
        store: CancelStore,
        locks: TurnLocks,
        *,
        quick_edit_s: float,
        clock: Callable[[], int],
    ) -> None:
        self._threads = threads
        self._store = store
        self._locks = locks
        self._quick_edit_s = quick_edit_s
        self._clock = clock
        self._running: dict[tuple[str, str], tuple[Running, asyncio.Task[None]]] = {}

    def start(self, p: Prepared) -> Running:
        """A stream begins (one of a thread can be cancelled; a chained one cannot be named)."""
        running = Running(self._quick_edit_s)
        if p.thread_id is not None and p.previous_response_id is None:
            key = (p.org, p.thread_id)
            watcher = asyncio.get_running_loop().create_task(self._watch(p, running))
            self._running[key] = (running, watcher)
        return running

    async def stop(self, p: Prepared, running: Running) -> None:
        if p.thread_id is None:
            return
        key = (p.org, p.thread_id)
        entry = self._running.get(key)
        if entry is None or entry[0] is not running:
            return
        del self._running[key]
        entry[1].cancel()
        if running.cancelled and not running.outcome.done():
            running.settle(kept=False)  # the client left while its cancel was being handled

    async def _watch(self, p: Prepared, running: Running) -> None:
        """Poll the thread for a cancel asked of another process."""
        assert p.thread_id is not None
        while not running.cancelled:
            await asyncio.sleep(POLL_S)
            try:
                requested = await self._store.cancel_requested(p.org, p.thread_id, p.created_us)
            except Exception:  # noqa: BLE001 - the store is failing: the next poll tries again
                continue
            if requested is not None:
                running.cancel(requested)

    async def settle(self, p: Prepared, running: Running, *, kept: bool) -> None:
        """Record what the cancel did, for a cancel that came through the store."""
        outcome = running.settle(kept=kept)
        if p.thread_id is None or not outcome.requested_us:
            return
        try:
            await self._store.answer_cancel(p.org, p.thread_id, outcome.requested_us, _encode(outcome))
        except Exception:  # noqa: BLE001 - the cancel's caller then learns nothing; the stream is stopped
            _log.warning("cancel_outcome_not_written", exc_info=True)

    async def cancel(self, org: str, thread_id: str) -> CancelOutcome:
        """Stop the thread's running stream; what was kept. 404 when none runs."""
        entry = self._running.get((org, thread_id))
        if entry is not None:  # in this process
            running = entry[0]
            running.cancel(self._clock())
            return await asyncio.wait_for(asyncio.shield(running.outcome), ANSWER_S)
        at = self._clock()
        if not await self._locks.busy(org, thread_id):
            # Nothing runs on it: an unknown thread is not found, a known one has no stream.
            if await self._threads.get_thread(org, thread_id, at) is None:
                raise ThreadNotFound(thread_id)
            raise _no_stream(thread_id)
        await self._store.request_cancel(org, thread_id, at)
        deadline = time.monotonic() + ANSWER_S
        while time.monotonic() < deadline:
            await asyncio.sleep(POLL_S / 2)
            answer = await self._store.cancel_answer(org, thread_id, at)
            if answer is not None:
                return _decode(answer)
            if not await self._locks.busy(org, thread_id):
                # The turn ended without a stream to stop (or before the cancel reached it).
                raise _no_stream(thread_id)
        raise ThreadBusy(thread_id)
