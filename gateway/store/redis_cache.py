"""The 24-hour response cache in Redis (redis-py's asyncio client).

Redis is a cache only: every failure is a miss, logged once per outage, and the store answers.
While Redis is failing, calls skip it for `cooldown_s` so that a dead Redis costs no latency on
every request; `status()` reports `degraded` until a ping succeeds again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import msgspec
import structlog
from redis.asyncio import Redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from gateway.core.records import ResponseRecord
from gateway.store.codec import decode_response, encode_response

_log = structlog.get_logger("gateway.cache")
_MAX_PENDING = 100_000
_MAX_ENTRY_BYTES = 512 * 1024


class RedisCache:
    name = "redis"
    shared = True

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 0.25,
        retries: int = 1,
        cooldown_s: float = 2.0,
        pool_size: int = 64,
        prefix: str = "gw",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Bounded: a short socket timeout, and at most `retries` quick retries with backoff.
        self._redis = Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(ExponentialBackoff(cap=timeout_s, base=0.01), retries),
            retry_on_timeout=True,
            max_connections=pool_size,
            health_check_interval=0,
        )
        self._prefix = prefix
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._down_until = 0.0
        self._failing = False
        # Deletions that could not reach Redis, retried once it answers again (bounded).
        self._pending_forget: set[str] = set()

    def _k(self, org: str, response_id: str) -> str:
        # Namespaced by organization: one organization's id can never read another's entry.
        return f"{self._prefix}:resp:{org}:{response_id}"

    def _skip(self) -> bool:
        return self._clock() < self._down_until

    def _failed(self, op: str, exc: Exception) -> None:
        self._down_until = self._clock() + self._cooldown_s
        if not self._failing:
            _log.warning("cache_unavailable", op=op, error=type(exc).__name__)
        self._failing = True

    async def _worked(self) -> None:
        if self._failing:
            _log.info("cache_available")
        self._failing = False
        if self._pending_forget:
            keys, self._pending_forget = list(self._pending_forget), set()
            try:
                await self._redis.delete(*keys)
            except (RedisError, OSError) as exc:
                self._pending_forget.update(keys[:_MAX_PENDING])
                self._failed("forget", exc)

    async def get(self, org: str, response_id: str) -> ResponseRecord | None:
        if self._skip():
            return None
        try:
            raw = await self._redis.get(self._k(org, response_id))
        except (RedisError, OSError) as exc:
            self._failed("get", exc)
            return None
        await self._worked()
        if raw is None:
            return None
        try:
            return decode_response(raw if isinstance(raw, bytes) else raw.encode())
        except msgspec.DecodeError:
            return None  # an entry of another version: a miss

    async def put(self, response: ResponseRecord) -> None:
        if self._skip():
            return
        ttl_ms = response.expires_us // 1000 - int(time.time() * 1000)
        if ttl_ms <= 0:
            return
        payload = encode_response(response)
        if len(payload) > _MAX_ENTRY_BYTES:
            return  # a very long context: the store answers for it, Redis memory stays bounded
        try:
            await self._redis.set(self._k(response.org, response.id), payload, px=ttl_ms)
        except (RedisError, OSError) as exc:
            self._failed("put", exc)
            return
        await self._worked()

    async def forget(self, org: str, response_ids: Iterable[str]) -> None:
        keys = [self._k(org, rid) for rid in response_ids]
        if not keys:
            return
        try:
            await self._redis.delete(*keys)
        except (RedisError, OSError) as exc:
            # The store no longer has these responses: Redis must forget them once it is back.
            room = _MAX_PENDING - len(self._pending_forget)
            self._pending_forget.update(keys[: max(room, 0)])
            self._failed("forget", exc)

    async def status(self) -> str:
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            self._failed("ping", exc)
            return "degraded"
        self._down_until = 0.0
        await self._worked()
        return "ok"

    async def close(self) -> None:
        await self._redis.aclose()
