"""Every way the store removes a response also removes it from the response cache in front of it
(gateway.store.cached), on every backend, with the in-process cache and with Redis.

The check of a hit against its thread (see test_cache_partition.py) would hide a forget that is
missing on a thread's deletion; these tests read the cache itself, so they fail when it is.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from gateway.store.cache import MemoryCache, ResponseCache
from gateway.store.cached import CachedStore
from gateway.store.protocols import Backend
from gateway.store.redis_cache import RedisCache
from tests.integration.store_contract.helpers import LIMITS, T0, S, response, thread, turn

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest, redis_server_url: str) -> AsyncIterator[ResponseCache]:
    made: ResponseCache = (
        MemoryCache(maxsize=100)
        if request.param == "memory"
        else RedisCache(redis_server_url, prefix=f"t{uuid.uuid4().hex[:8]}")
    )
    yield made
    await made.close()


@pytest.fixture
def cached(store: Backend, cache: ResponseCache) -> CachedStore:
    return CachedStore(store, cache)


async def thread_turn(cached: CachedStore, org: str, tid: str) -> str:
    """A turn saved through the cached store; the id of its response, which the cache now holds."""
    await turn(cached, org, tid, [("user", "u"), ("assistant", "a")], create=thread(org, tid))  # type: ignore[arg-type]
    page = await cached.threads.list_messages(org, tid, limit=1, after=None, descending=True, at_us=T0)
    assert page is not None
    rid = page.items[0].response_id
    assert rid is not None
    return rid


async def test_a_deleted_thread_s_responses_leave_the_cache(
    cached: CachedStore, cache: ResponseCache
) -> None:
    rid = await thread_turn(cached, "o1", "gone")
    other = await thread_turn(cached, "o1", "kept")
    assert await cache.get("o1", rid) is not None
    assert await cached.threads.delete_thread("o1", "gone", T0 + S) == (rid,)
    assert await cache.get("o1", rid) is None
    assert await cache.get("o1", other) is not None  # only the deleted thread's
    assert await cached.responses.get_response("o1", rid, T0 + S) is None


async def test_deleting_all_threads_empties_the_cache_of_their_responses(
    cached: CachedStore, cache: ResponseCache
) -> None:
    mine = [await thread_turn(cached, "o1", f"t{i}") for i in range(3)]
    theirs = await thread_turn(cached, "o2", "t0")
    deleted, removed = await cached.threads.delete_all_threads("o1", T0 + S)
    assert deleted == 3 and sorted(removed) == sorted(mine)
    for rid in mine:
        assert await cache.get("o1", rid) is None
    assert await cache.get("o2", theirs) is not None  # another organization's stays


async def test_a_deleted_response_leaves_the_cache(cached: CachedStore, cache: ResponseCache) -> None:
    alone = response("o1")
    await cached.responses.save_response(alone)
    if cache.shared:  # a shared cache keeps no response of no thread (the store answers those)
        assert await cache.get("o1", alone.id) is None
        await cache.put(alone)  # as another worker's cache might still hold it
    assert await cache.get("o1", alone.id) is not None
    assert await cached.responses.delete_response("o1", alone.id, T0 + S)
    assert await cache.get("o1", alone.id) is None


async def test_the_purge_removes_what_it_purged_from_the_cache(
    cached: CachedStore, cache: ResponseCache
) -> None:
    rid = await thread_turn(cached, "o1", "idle")
    alone = response("o1")
    await cached.responses.save_response(alone)
    await cache.put(alone)
    # Past the thread's idle limit and the response's expiry, within the cache's own lifetime of
    # them (it keeps an entry until its response's expiry, by the wall clock: T0 is in the future).
    report = await cached.purge_expired(T0 + 2 * LIMITS.idle_us)
    assert report.threads == 1
    assert {r for _, r in report.response_ids} >= {rid, alone.id}
    assert await cache.get("o1", rid) is None
    assert await cache.get("o1", alone.id) is None
