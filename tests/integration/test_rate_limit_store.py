"""The rate-limit counters of every backend (SQLite, MongoDB through mongoeco's wire server, Redis)
pass one contract, and the limiter over them decides as SPEC §15 says, on a clock the test sets."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog

from gateway.errors import RateLimited
from gateway.ratelimit import Counters, Limiter, RedisCounters, key_ident
from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.ratelimits import rate_limits_of
from gateway.store.mongo.store import MongoStore
from gateway.store.sqlite.store import SqliteStore
from tests.integration.store_contract.helpers import LIMITS
from tests.services import RedisServer, mongo_uri

T0 = 1_800_000_000.0  # a minute's start (divisible by 60), to come: no counter of it has expired
W = int(T0 // 60)  # its window


@pytest.fixture
async def sqlite_counters(tmp_path: Path) -> AsyncIterator[Counters]:
    store = SqliteStore(str(tmp_path / "db" / "gateway.sqlite3"), LIMITS)
    await store.open()
    yield store.rate_limits
    await store.close()


@pytest.fixture
async def mongo_counters() -> AsyncIterator[Counters]:
    async with mongo_uri() as uri:
        store = MongoStore(MongoDatabase(uri, LIMITS, database=f"gw_{uuid.uuid4().hex[:8]}", timeout_s=30))
        await store.open()
        yield store.rate_limits
        await store.close()


@pytest.fixture
async def redis_counters(redis_server: RedisServer) -> AsyncIterator[Counters]:
    counters = RedisCounters(redis_server.url, prefix=f"t{uuid.uuid4().hex[:8]}")
    yield counters
    await counters.close()


@pytest.fixture(params=["sqlite_counters", "mongo_counters", "redis_counters"])
def counters(request: pytest.FixtureRequest) -> Counters:
    found: Counters = request.getfixturevalue(request.param)
    return found


class Clock:
    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


# -- the counters' contract -----------------------------------------------------------------------


async def test_counts_add_up_per_key_and_window(counters: Counters) -> None:
    assert await counters.hit("k1", W, 1) == (1, 0)
    assert await counters.hit("k1", W, 1) == (2, 0)
    await counters.spend("k1", W, 250)
    assert await counters.hit("k1", W, 1) == (3, 250)
    await counters.spend("k1", W, 5)
    assert await counters.hit("k1", W, 0) == (3, 255)  # a hit of 0 reads without counting
    # Another key, another window: counted apart.
    assert await counters.hit("k2", W, 1) == (1, 0)
    assert await counters.hit("k1", W + 1, 1) == (1, 0)
    await counters.spend("k3", W + 1, 7)  # tokens first: the window's row is made by the spend
    assert await counters.hit("k3", W + 1, 1) == (1, 7)


async def test_concurrent_hits_each_get_their_own_count(counters: Counters) -> None:
    counts = await asyncio.gather(*(counters.hit("busy", W, 1) for _ in range(40)))
    assert sorted(r for r, _ in counts) == list(range(1, 41))


async def test_mongodb_counters_expire_by_ttl_index(mongo_counters: Counters) -> None:
    # The database drops a window's document a minute after the window ends (TTL on `gone_at`).
    await mongo_counters.hit("k", W, 1)
    db = mongo_counters._db  # type: ignore[attr-defined]
    doc = await rate_limits_of(db).find_one({"ident": "k", "window": W})
    assert doc is not None and doc["requests"] == 1 and doc["tokens"] == 0
    assert doc["gone_at"].timestamp() == T0 + 120
    indexes = await rate_limits_of(db).index_information()
    assert any(i.get("expireAfterSeconds") == 0 and i["key"] == [("gone_at", 1)] for i in indexes.values())


async def test_sqlite_counters_of_past_minutes_are_deleted(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "gateway.sqlite3"), LIMITS)
    await store.open()
    try:
        await store.rate_limits.hit("k", W, 1)
        await store.rate_limits.hit("k", W + 1, 1)
        await store.rate_limits.hit("k", W + 2, 1)  # a new minute: the minute two before is gone
        rows = await store._engine.read(  # the table itself, as another worker would see it
            lambda db: db.execute("SELECT window FROM rate_limits ORDER BY window").fetchall()
        )
        assert [w for (w,) in rows] == [W + 1, W + 2]
    finally:
        await store.close()


# -- the limiter over them ------------------------------------------------------------------------


async def test_requests_beyond_the_rpm_are_refused_until_the_next_minute(counters: Counters) -> None:
    clock = Clock(T0 + 15.2)
    limiter = Limiter(counters, rpm=3, tpm=None, clock=clock)
    key = f"k_{uuid.uuid4().hex}"
    reset = str(int(T0) + 60)
    seen = [await limiter.admit(key) for _ in range(3)]
    assert [h["X-RateLimit-Remaining"] for h in seen] == ["2", "1", "0"]
    assert all(h["X-RateLimit-Limit"] == "3" and h["X-RateLimit-Reset"] == reset for h in seen)
    with pytest.raises(RateLimited) as refused:
        await limiter.admit(key)
    assert refused.value.status == 429 and refused.value.code == "RATE_LIMITED"
    assert refused.value.headers == {
        "X-RateLimit-Limit": "3",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": reset,
        "Retry-After": "45",  # 44.8 s left of the minute, rounded up
    }
    assert refused.value.details == {"limit": 3, "unit": "requests_per_minute", "retry_after_s": 45}
    assert await limiter.admit(f"other_{key}") == {
        "X-RateLimit-Limit": "3",
        "X-RateLimit-Remaining": "2",
        "X-RateLimit-Reset": reset,
    }
    clock.at = T0 + 60.0  # the next minute: a fresh count
    assert (await limiter.admit(key))["X-RateLimit-Remaining"] == "2"


async def test_tokens_of_finished_turns_refuse_the_next_request(counters: Counters) -> None:
    clock = Clock(T0 + 59.5)
    limiter = Limiter(counters, rpm=None, tpm=100, clock=clock)
    key = f"k_{uuid.uuid4().hex}"
    assert (await limiter.admit(key))["X-RateLimit-Remaining"] == "100"
    await limiter.spend(60)  # the turn of that request ends: its tokens go to its key
    assert (await limiter.admit(key))["X-RateLimit-Remaining"] == "40"
    await limiter.spend(60)  # a turn admitted under the limit is counted whole, past it
    with pytest.raises(RateLimited) as refused:
        await limiter.admit(key)
    assert refused.value.headers["X-RateLimit-Limit"] == "100"
    assert refused.value.headers["Retry-After"] == "1"  # half a second left, never 0
    assert "(tokens per minute: 100)" in refused.value.message
    assert (await limiter.admit(f"b_{key}"))["X-RateLimit-Remaining"] == "100"  # another key
    clock.at = T0 + 60.0
    assert (await limiter.admit(key))["X-RateLimit-Remaining"] == "100"


async def test_both_limits_headers_tell_the_requests(counters: Counters) -> None:
    limiter = Limiter(counters, rpm=2, tpm=1000, clock=Clock(T0))
    key = f"k_{uuid.uuid4().hex}"
    assert (await limiter.admit(key))["X-RateLimit-Limit"] == "2"
    await limiter.spend(1000)
    with pytest.raises(RateLimited) as refused:
        await limiter.admit(key)
    assert "(tokens per minute: 1000)" in refused.value.message
    assert refused.value.headers["X-RateLimit-Limit"] == "1000"


async def test_counters_know_a_key_only_by_its_digest(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "gateway.sqlite3"), LIMITS)
    await store.open()
    try:
        secret = "ak_secret_never_stored_42"
        await Limiter(store.rate_limits, rpm=5, tpm=None, clock=Clock(T0)).admit(secret)
        raw = (tmp_path / "gateway.sqlite3").read_bytes() + (tmp_path / "gateway.sqlite3-wal").read_bytes()
        assert secret.encode() not in raw
        assert key_ident(secret).encode() in raw
    finally:
        await store.close()


async def test_redis_down_admits_and_says_so_once(redis_server: RedisServer) -> None:
    counters = RedisCounters(redis_server.url, prefix=f"t{uuid.uuid4().hex[:8]}", timeout_s=0.5)
    clock = Clock(T0)
    limiter = Limiter(counters, rpm=1, tpm=10, clock=clock, cooldown_s=2.0)
    try:
        key = f"k_{uuid.uuid4().hex}"
        assert (await limiter.admit(key))["X-RateLimit-Remaining"] == "0"
        redis_server.stop()
        with structlog.testing.capture_logs() as logs:
            # Over the limit, but the counters cannot be reached: admitted, without headers.
            assert await limiter.admit(key) == {}
            await limiter.spend(50)
            assert await limiter.admit(key) == {}
            clock.at += 3  # past the cooldown: tried again, still down, not said again
            assert await limiter.admit(key) == {}
        warnings = [e for e in logs if e["event"] == "rate_limit_unavailable"]
        assert len(warnings) == 1 and warnings[0]["counters"] == "redis"
        assert key not in json.dumps(logs, default=str)
        redis_server.start()  # back (empty: no persistence): counted again
        clock.at += 3
        with structlog.testing.capture_logs() as logs:
            assert (await limiter.admit(key))["X-RateLimit-Remaining"] == "0"
        assert [e["event"] for e in logs] == ["rate_limit_available"]
        with pytest.raises(RateLimited):
            await limiter.admit(key)
    finally:
        await counters.close()
