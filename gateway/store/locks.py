"""Linearizable turns: one turn at a time on a thread, across tasks, worker processes and replicas.

A turn takes its thread's lease before it reads the history and gives it up once its turn is saved
(or failed), so the next turn sees it. Two layers:

- in process, an `asyncio.Lock` per thread: waiters of one worker queue in order and are woken
  the moment the lease is given up, without polling the store;
- across processes, the backend's `SharedLocks` (SQLite: a byte-range lock of a file, released by
  the kernel when a process dies; MongoDB: a lease document with a time to live, renewed while
  held, and a fencing token).

A lease not given up (a stream never iterated, a bug) is released by the sweeper after
`max_hold_s` (longer than any turn can take), so no thread is blocked for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog

from gateway.store.protocols import SharedLocks, TurnLease

_log = structlog.get_logger("gateway.locks")
_FIRST_POLL_S = 0.002
_MAX_POLL_S = 0.05


class _Slot:
    """A thread's in-process lock and how many tasks hold or wait for it."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class _Held:
    __slots__ = ("lease", "renewed", "since", "slot")

    def __init__(self, slot: _Slot, lease: TurnLease, now: float) -> None:
        self.slot = slot
        self.lease = lease
        self.since = now
        self.renewed = now


class TurnLocks:
    """Leases of threads for turns (see the module docstring).

    One sweeper task per event loop, not a task per turn, renews the store leases held longer than
    a third of their time to live (backends whose leases last as long as their process, as SQLite's,
    say so with `renews = False`) and releases the ones held past `max_hold_s`."""

    def __init__(self, shared: SharedLocks, *, ttl_s: float = 15.0, max_hold_s: float = 600.0) -> None:
        self._shared = shared
        self._ttl_s = ttl_s
        self._max_hold_s = max_hold_s
        self._renews = shared.renews
        self._slots: dict[tuple[str, str], _Slot] = {}
        self._held: dict[int, _Held] = {}  # by id of the lease handed out
        self._sweeper: asyncio.Task[None] | None = None

    async def acquire(self, org: str, thread_id: str, *, wait_s: float) -> TurnLease | None:
        """The thread's lease, waiting up to `wait_s`; None when it stayed taken."""
        deadline = time.monotonic() + wait_s
        key = (org, thread_id)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot()
        slot.users += 1
        lease: TurnLease | None = None
        try:
            if slot.users == 1:
                await slot.lock.acquire()  # nobody holds or waits for it: taken at once
            else:
                await asyncio.wait_for(slot.lock.acquire(), timeout=max(wait_s, 0.0))
            try:
                lease = await self._shared_lease(org, thread_id, deadline)
            finally:
                if lease is None:
                    slot.lock.release()
        except TimeoutError:
            lease = None
        finally:
            if lease is None:
                self._leave(key, slot)
        if lease is None:
            return None
        self._held[id(lease)] = _Held(slot, lease, time.monotonic())
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="turn-lease-sweeper")
        return lease

    async def busy(self, org: str, thread_id: str) -> bool:
        """Whether a turn holds the thread now, here or in another process."""
        slot = self._slots.get((org, thread_id))
        if slot is not None and slot.lock.locked():
            return True
        probe = await self._shared.try_acquire(org, thread_id, ttl_s=self._ttl_s)
        if probe is None:
            return True
        await self._shared.release(probe)
        return False

    async def _shared_lease(self, org: str, thread_id: str, deadline: float) -> TurnLease | None:
        pause = _FIRST_POLL_S
        while True:
            lease = await self._shared.try_acquire(org, thread_id, ttl_s=self._ttl_s)
            if lease is not None:
                return lease
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            # Another process holds it: poll, more slowly the longer it is held.
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, _MAX_POLL_S)

    async def _sweep(self) -> None:
        """While leases are held: renew the store's (a third of their time to live apart) and
        release those held past `max_hold_s` (never given up: a stream never iterated, a bug)."""
        period = min(self._ttl_s / 3, self._max_hold_s)
        while self._held:
            await asyncio.sleep(period)
            now = time.monotonic()
            for held in list(self._held.values()):
                if now - held.since >= self._max_hold_s:
                    _log.error("turn_lease_not_released", thread_id=held.lease.thread_id)
                    await self.release(held.lease)
                elif self._renews and now - held.renewed >= period:
                    held.renewed = now
                    await self._renew(held.lease)

    async def _renew(self, lease: TurnLease) -> None:
        try:
            if not await self._shared.renew(lease, ttl_s=self._ttl_s):
                _log.warning("turn_lease_lost", thread_id=lease.thread_id)
        except Exception:  # noqa: BLE001 - the store is failing: the next round tries again
            _log.warning("turn_lease_renewal_failed", thread_id=lease.thread_id, exc_info=True)

    async def aclose(self) -> None:
        """Stop the sweeper (the app's shutdown; leases still held are the store's to expire)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def release(self, lease: TurnLease | None) -> None:
        """Give the lease up; idempotent (a second release does nothing)."""
        if lease is None:
            return
        held = self._held.pop(id(lease), None)
        if held is None:
            return
        try:
            await self._shared.release(lease)
        except Exception:  # noqa: BLE001 - a lease not given up in the store runs out by itself
            _log.warning("turn_lease_release_failed", thread_id=lease.thread_id, exc_info=True)
        finally:
            held.slot.lock.release()
            self._leave((lease.org, lease.thread_id), held.slot)

    def _leave(self, key: tuple[str, str], slot: _Slot) -> None:
        # Bounded memory: a thread's lock lives only while someone holds or waits for it.
        slot.users -= 1
        if slot.users == 0 and self._slots.get(key) is slot:
            del self._slots[key]
