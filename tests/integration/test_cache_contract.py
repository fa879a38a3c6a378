"""The response cache contract: every implementation of `ResponseCache` (in-process, none, Redis)
passes the same tests, as the store backends pass the store contract.

A cache that holds entries (`memory`, `redis`) answers a look-up with exactly what was put, for
its organization only, until it is forgotten or its response expires. The null cache holds nothing:
every look-up is a miss, so the store always answers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from gateway.core.records import ResponseRecord, Usage
from gateway.core.rules import now_us
from gateway.ids import new_id
from gateway.store.cache import MemoryCache, NullCache, ResponseCache
from gateway.store.redis_cache import RedisCache
from providers.base import ChatMessage

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture
async def memory_cache() -> AsyncIterator[ResponseCache]:
    cache = MemoryCache(maxsize=100)
    yield cache
    await cache.close()


@pytest.fixture
async def null_cache() -> AsyncIterator[ResponseCache]:
    cache = NullCache()
    yield cache
    await cache.close()


@pytest.fixture
async def redis_cache(redis_server_url: str) -> AsyncIterator[ResponseCache]:
    # A key prefix of its own per test: the server is shared by the module.
    cache = RedisCache(redis_server_url, prefix=f"t{uuid.uuid4().hex[:8]}")
    yield cache
    await cache.close()


@pytest.fixture(params=["memory_cache", "null_cache", "redis_cache"])
def cache(request: pytest.FixtureRequest) -> ResponseCache:
    found: ResponseCache = request.getfixturevalue(request.param)
    return found


def holds(cache: ResponseCache) -> bool:
    """Whether the implementation keeps entries at all (all but the null cache)."""
    return cache.name != "none"


def record(org: str = "o1", ttl_us: int = 60_000_000, **extra: object) -> ResponseRecord:
    at = now_us()
    fields: dict[str, object] = {
        "org": org,
        "id": new_id("resp"),
        "model": "echo",
        "created_us": at,
        "expires_us": at + ttl_us,
        "thread_id": None,
        "previous_response_id": None,
        "output_message_id": new_id("msg"),
        "output_text": "hello",
        "usage": Usage(input_tokens=1, output_tokens=2),
        "context": (ChatMessage("system", ("be brief",)), ChatMessage("user", ("hi", "there"))),
        **extra,
    }
    return ResponseRecord(**fields)  # type: ignore[arg-type]


async def test_a_response_never_put_is_a_miss(cache: ResponseCache) -> None:
    assert await cache.get("o1", new_id("resp")) is None


async def test_a_put_response_comes_back_whole(cache: ResponseCache) -> None:
    r = record(thread_id="t1", context_ref=((1, 3), (7, 7)))
    await cache.put(r)
    got = await cache.get("o1", r.id)
    if holds(cache):
        assert got == r
        assert got is not None and got.context == r.context and got.context_ref == ((1, 3), (7, 7))
    else:
        assert got is None


async def test_entries_are_scoped_by_organization(cache: ResponseCache) -> None:
    r = record(org="o1")
    await cache.put(r)
    assert await cache.get("o2", r.id) is None
    other = record(org="o2")
    await cache.put(other)
    assert await cache.get("o1", other.id) is None


async def test_forget_removes_exactly_the_ids_named(cache: ResponseCache) -> None:
    kept, gone1, gone2 = record(), record(), record()
    for r in (kept, gone1, gone2):
        await cache.put(r)
    await cache.forget("o1", [gone1.id, gone2.id, new_id("resp")])  # an unknown id is no error
    assert await cache.get("o1", gone1.id) is None
    assert await cache.get("o1", gone2.id) is None
    assert (await cache.get("o1", kept.id) == kept) is holds(cache)


async def test_forget_of_another_organization_leaves_the_entry(cache: ResponseCache) -> None:
    r = record(org="o1")
    await cache.put(r)
    await cache.forget("o2", [r.id])
    assert (await cache.get("o1", r.id) == r) is holds(cache)


async def test_an_expired_response_is_not_served(cache: ResponseCache) -> None:
    r = record(ttl_us=-1_000_000)
    await cache.put(r)
    assert await cache.get("o1", r.id) is None


async def test_an_entry_leaves_at_its_response_s_expiry(cache: ResponseCache) -> None:
    r = record(ttl_us=300_000)
    await cache.put(r)
    assert (await cache.get("o1", r.id) == r) is holds(cache)
    await asyncio.sleep(0.45)
    assert await cache.get("o1", r.id) is None


async def test_a_put_replaces_the_entry_of_the_same_id(cache: ResponseCache) -> None:
    first = record()
    await cache.put(first)
    second = record(id=first.id, output_text="changed")
    await cache.put(second)
    got = await cache.get("o1", first.id)
    assert (got is not None and got.output_text == "changed") is holds(cache)


async def test_a_working_cache_reports_ok(cache: ResponseCache) -> None:
    assert await cache.status() == "ok"
