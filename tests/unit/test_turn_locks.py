"""The in-process half of linearizable turns (`gateway.store.locks.TurnLocks`) over a shared-lease
double that records what it is asked: one holder per thread, waiters served in order and given up
after their wait, the store's leases renewed while held (only for a backend whose leases run out),
a lease never given up released by the sweeper, and nothing left behind."""

from __future__ import annotations

import asyncio
import itertools

from gateway.store.locks import TurnLocks
from gateway.store.protocols import TurnLease


class Shared:
    """`SharedLocks` of one process: a set of held keys, with the calls counted."""

    def __init__(self, *, renews: bool) -> None:
        self.renews = renews
        self.held: set[tuple[str, str]] = set()
        self.renewed: list[str] = []
        self._tokens = itertools.count(1)

    async def try_acquire(self, org: str, thread_id: str, *, ttl_s: float) -> TurnLease | None:
        if (org, thread_id) in self.held:
            return None
        self.held.add((org, thread_id))
        return TurnLease(org=org, thread_id=thread_id, token=next(self._tokens))

    async def renew(self, lease: TurnLease, *, ttl_s: float) -> bool:
        self.renewed.append(lease.thread_id)
        return (lease.org, lease.thread_id) in self.held

    async def release(self, lease: TurnLease) -> None:
        self.held.discard((lease.org, lease.thread_id))


async def test_one_holder_per_thread_and_waiters_in_order() -> None:
    shared = Shared(renews=False)
    locks = TurnLocks(shared)
    first = await locks.acquire("o", "t", wait_s=1)
    assert first is not None and shared.held == {("o", "t")}
    order: list[int] = []

    async def wait(n: int) -> None:
        lease = await locks.acquire("o", "t", wait_s=5)
        assert lease is not None
        order.append(n)
        await asyncio.sleep(0)
        await locks.release(lease)

    waiters = [asyncio.create_task(wait(n)) for n in range(3)]
    await asyncio.sleep(0.01)
    assert order == []  # all wait for the first holder
    other = await locks.acquire("o", "u", wait_s=0)  # another thread is not held up
    assert other is not None
    await locks.release(first)
    await asyncio.gather(*waiters)
    assert order == [0, 1, 2]
    await locks.release(other)
    await locks.release(other)  # idempotent
    assert shared.held == set() and not await locks.busy("o", "t") and not await locks.busy("o", "u")
    await locks.aclose()


async def test_a_waiter_gives_up_after_its_wait() -> None:
    locks = TurnLocks(Shared(renews=False))
    held = await locks.acquire("o", "t", wait_s=1)
    assert held is not None
    assert await locks.acquire("o", "t", wait_s=0.05) is None
    await locks.release(held)
    again = await locks.acquire("o", "t", wait_s=0)
    assert again is not None
    await locks.release(again)
    await locks.aclose()


async def test_the_store_lease_is_renewed_while_held_only_where_it_runs_out() -> None:
    renewing, lasting = Shared(renews=True), Shared(renews=False)
    for shared in (renewing, lasting):
        locks = TurnLocks(shared, ttl_s=0.06)  # swept every 20 ms
        lease = await locks.acquire("o", "t", wait_s=1)
        assert lease is not None
        await asyncio.sleep(0.15)
        await locks.release(lease)
        done = len(shared.renewed)
        await asyncio.sleep(0.08)
        assert len(shared.renewed) == done  # nothing renewed once given up
        await locks.aclose()
    assert len(renewing.renewed) >= 3 and set(renewing.renewed) == {"t"}
    assert lasting.renewed == []


async def test_a_lease_never_given_up_is_released_by_the_sweeper() -> None:
    shared = Shared(renews=False)
    locks = TurnLocks(shared, ttl_s=0.03, max_hold_s=0.1)
    lease = await locks.acquire("o", "t", wait_s=1)
    assert lease is not None
    # A second turn waits for it and gets it once the sweeper has released the forgotten one.
    later = await locks.acquire("o", "t", wait_s=2)
    assert later is not None and later.token > lease.token
    await locks.release(lease)  # the late release of the forgotten lease changes nothing
    assert shared.held == {("o", "t")}
    await locks.release(later)
    assert shared.held == set()
    await locks.aclose()
