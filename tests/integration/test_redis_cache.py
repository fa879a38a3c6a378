"""The Redis response cache against a real redis-server that the tests stop and start."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis
from litestar.testing import AsyncTestClient

from gateway.core.records import ResponseRecord, Usage
from gateway.core.rules import now_us
from gateway.ids import new_id
from gateway.settings import load_settings
from gateway.store.redis_cache import RedisCache
from tests.conftest import API_KEYS, KEY_A, Api, ok, running
from tests.proxy import TcpProxy
from tests.services import RedisServer

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def record(org: str = "o1", ttl_us: int = 60_000_000) -> ResponseRecord:
    at = now_us()
    return ResponseRecord(
        org=org,
        id=new_id("resp"),
        model="echo",
        created_us=at,
        expires_us=at + ttl_us,
        thread_id=None,
        previous_response_id=None,
        output_message_id=new_id("msg"),
        output_text="hello",
        usage=Usage(input_tokens=1, output_tokens=2),
        context=(),
    )


async def test_a_dead_redis_is_a_fast_miss_and_degraded(redis_server: RedisServer) -> None:
    import time

    cache = RedisCache(redis_server.url, timeout_s=0.2, cooldown_s=0.2)
    redis_server.stop()
    started = time.monotonic()
    assert await cache.get("o1", "resp_x") is None
    await cache.put(record())
    await cache.forget("o1", ["resp_y"])
    assert time.monotonic() - started < 2
    assert await cache.status() == "degraded"
    redis_server.start()
    assert await cache.status() == "ok"
    r = record()
    await cache.put(r)
    assert await cache.get("o1", r.id) == r
    await cache.close()


@pytest.fixture
async def gateway_on_redis(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[AsyncTestClient[Any]]:
    settings = load_settings(
        {}, data_dir=str(tmp_path), api_keys=API_KEYS, redis_url=redis_server.url, redis_timeout_s=0.2
    )
    async with running(settings) as client:
        yield client


async def test_requests_succeed_while_redis_is_down_and_use_it_again_after(
    gateway_on_redis: AsyncTestClient[Any], redis_server: RedisServer
) -> None:
    a = Api(gateway_on_redis, KEY_A)
    direct = redis.Redis.from_url(redis_server.url)
    r1 = ok(await a.say("Hello"))
    ready = (await gateway_on_redis.get("/health/ready")).json()
    assert ready["checks"]["cache"] == {"status": "ok", "backend": "redis"}

    redis_server.stop()
    r2 = ok(
        await a.post(
            "/v1/model/response",
            json={
                "model": "echo",
                "previousResponseId": r1["id"],
                "inputs": [{"role": "user", "content": "more"}],
            },
        )
    )
    assert r2["output_text"].splitlines() == ["Hello", "more"]
    r3 = ok(await a.say("again", thread=r1["thread_id"]))
    assert r3["output_text"].splitlines() == ["Hello", "again"]
    resp = await gateway_on_redis.get("/health/ready")
    assert resp.status_code == 200
    assert resp.json()["checks"]["cache"]["status"] == "degraded"
    assert resp.json()["checks"]["store"]["status"] == "ok"

    redis_server.start()
    assert (await gateway_on_redis.get("/health/ready")).json()["checks"]["cache"]["status"] == "ok"
    r4 = ok(await a.say("back"))
    # The new response went to Redis again, under its organization's namespace.
    assert direct.exists(f"gw:resp:org_alpha:{r4['id']}") == 1
    direct.close()
    r5 = ok(
        await a.post(
            "/v1/model/response",
            json={
                "model": "echo",
                "previousResponseId": r4["id"],
                "inputs": [{"role": "user", "content": "x"}],
            },
        )
    )
    assert r5["output_text"].splitlines() == ["back", "x"]


async def test_a_hung_redis_costs_one_timeout_then_is_skipped_until_the_cooldown_ends(
    redis_server: RedisServer,
) -> None:
    """A Redis that accepts connections but never answers (stopped with SIGSTOP, as a stalled host
    looks) is tried once, then left alone for the cooldown: nothing more is sent to it, so each
    call costs no socket timeout; after the cooldown it is tried again, and used once it answers."""
    proxy = TcpProxy("127.0.0.1", redis_server.port)  # counts what the cache sends to Redis
    proxy.start()
    now = [1000.0]
    cache = RedisCache(
        f"redis://127.0.0.1:{proxy.port}/0", timeout_s=0.2, retries=0, cooldown_s=5, clock=lambda: now[0]
    )
    kept = record()
    await cache.put(kept)
    assert await cache.get("o1", kept.id) == kept
    assert redis_server.proc is not None
    pid = redis_server.proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        assert await cache.get("o1", kept.id) is None  # the one timeout: a miss
        tried = proxy.sent
        assert tried > 0
        for _ in range(10):
            assert await cache.get("o1", kept.id) is None
            await cache.put(record())
        assert proxy.sent == tried, "calls in the cooldown went to the hung Redis"
        now[0] += 5.5  # the cooldown is over: the next call tries Redis again (and times out)
        assert await cache.get("o1", kept.id) is None
        assert proxy.sent > tried
    finally:
        os.kill(pid, signal.SIGCONT)
    now[0] += 5.5
    assert await cache.get("o1", kept.id) == kept  # answering again: used again
    await cache.close()
    proxy.stop()
