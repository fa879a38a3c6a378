"""Per-key rate limits (SPEC §15): requests and tokens per minute, shared by every worker and replica.

The window is fixed: the minute of the wall clock (UTC), the same for every process. Each request
adds one to its key's count of the minute in one atomic step that also reads the minute's tokens,
so one round trip decides both limits: the `n`-th request of a minute is admitted while `n` is at
most the RPM limit and the tokens counted so far are under the TPM limit. A turn's tokens (its
usage, input plus output) are added to the minute in which it ends.

Counters live in Redis when configured (`RedisCounters`, one Lua script through redis-py's asyncio
client), else in the store (`gateway.store.sqlite.ratelimits`, `gateway.store.mongo.ratelimits`).
A key is known there only by a digest of it. Any failure of the counters admits the request (fail
open): logged once per outage, and the counters skipped for `cooldown_s`, so that a dead Redis
costs no latency on every request.
"""

from __future__ import annotations

import contextvars
import hashlib
import math
import time
from collections.abc import Callable
from typing import Protocol

import structlog
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError

from gateway.errors import RateLimited

_log = structlog.get_logger("gateway.ratelimit")
WINDOW_S = 60
# A minute's counters are kept a minute past its end, then dropped (Redis TTL, store purge).
KEEP_S = 2 * WINDOW_S

# The digest of the key whose request runs in this context: the key its turn's tokens are counted
# against (set by `Limiter.admit`, read by `Limiter.spend`).
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("rate_limit_key", default=None)


class Counters(Protocol):
    """One counter pair (requests, tokens) per key digest and window (minute number)."""

    name: str

    async def hit(self, ident: str, window: int, requests: int) -> tuple[int, int]:
        """Add `requests` to the window's requests; its requests and tokens after that, atomically."""
        ...

    async def spend(self, ident: str, window: int, tokens: int) -> None:
        """Add `tokens` to the window's tokens."""
        ...


def key_ident(key: str) -> str:
    """What the counters know a key by: a digest, never the key."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Limiter:
    """The limits of every key: `admit` before a request, `spend` after a turn."""

    def __init__(
        self,
        counters: Counters,
        *,
        rpm: int | None,
        tpm: int | None,
        cooldown_s: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._counters = counters
        self._rpm = rpm
        self._tpm = tpm
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._down_until = 0.0
        self._failing = False

    @property
    def counts_tokens(self) -> bool:
        return self._tpm is not None

    @property
    def backend(self) -> str:
        return self._counters.name

    def _skip(self, now: float) -> bool:
        return now < self._down_until

    def _failed(self, op: str, exc: Exception, now: float) -> None:
        self._down_until = now + self._cooldown_s
        if not self._failing:
            # Once per outage; never the key (the counters know only its digest, not logged either).
            _log.warning(
                "rate_limit_unavailable", op=op, counters=self._counters.name, error=type(exc).__name__
            )
        self._failing = True

    def _worked(self) -> None:
        if self._failing:
            _log.info("rate_limit_available", counters=self._counters.name)
            self._failing = False

    async def admit(self, key: str) -> dict[str, str]:
        """Count a request of `key`; the `X-RateLimit-*` headers of its answer, or 429 `RATE_LIMITED`
        (with them and `Retry-After`) when the minute's requests or tokens are used up. The counters
        unreachable: admitted, without headers."""
        ident = key_ident(key)
        _current.set(ident)
        now = self._clock()
        if self._skip(now):
            return {}
        window = int(now // WINDOW_S)
        try:
            requests, tokens = await self._counters.hit(ident, window, 1 if self._rpm is not None else 0)
        except Exception as exc:  # noqa: BLE001 - fail open: a limit is not worth an outage
            self._failed("hit", exc, now)
            return {}
        self._worked()
        reset = (window + 1) * WINDOW_S
        if self._tpm is not None and tokens >= self._tpm:
            raise _refusal("tokens", self._tpm, reset, now)
        if self._rpm is not None:
            if requests > self._rpm:
                raise _refusal("requests", self._rpm, reset, now)
            return _headers(self._rpm, self._rpm - requests, reset)
        assert self._tpm is not None  # a limiter has at least one limit
        return _headers(self._tpm, self._tpm - tokens, reset)

    async def spend(self, tokens: int) -> None:
        """Count a finished turn's tokens against the key of this request (see `admit`)."""
        ident = _current.get()
        now = self._clock()
        if ident is None or tokens <= 0 or self._skip(now):
            return
        try:
            await self._counters.spend(ident, int(now // WINDOW_S), tokens)
        except Exception as exc:  # noqa: BLE001 - fail open, as `admit`
            self._failed("spend", exc, now)
            return
        self._worked()

    async def close(self) -> None:
        close = getattr(self._counters, "close", None)
        if close is not None:
            await close()


def _headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(remaining, 0)),
        "X-RateLimit-Reset": str(reset),
    }


def _refusal(kind: str, limit: int, reset: int, now: float) -> RateLimited:
    retry_after = max(1, math.ceil(reset - now))
    headers = {**_headers(limit, 0, reset), "Retry-After": str(retry_after)}
    return RateLimited(
        f"Rate limit reached for this API key ({kind} per minute: {limit}). Try again in {retry_after} s.",
        details={"limit": limit, "unit": f"{kind}_per_minute", "retry_after_s": retry_after},
        headers=headers,
    )


# Requests: add ARGV[1] to field `r`; the window's key expires ARGV[2] seconds from its last use.
_HIT = """
local r = redis.call('HINCRBY', KEYS[1], 'r', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
local t = redis.call('HGET', KEYS[1], 't')
return {r, tonumber(t) or 0}
"""
_SPEND = """
redis.call('HINCRBY', KEYS[1], 't', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


class RedisCounters:
    """`Counters` in Redis: one hash per key and minute (`r`, `t`), dropped by its TTL."""

    name = "redis"

    def __init__(self, url: str, *, timeout_s: float = 0.25, pool_size: int = 64, prefix: str = "gw") -> None:
        # One retry on a broken connection (one the server closed: the command never ran), none on
        # a timeout (the count may have been made: a retry would count twice); a failure admits.
        self._redis = Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 1, supported_errors=(ConnectionError,)),
            max_connections=pool_size,
            health_check_interval=0,
        )
        self._prefix = prefix
        self._hit = self._redis.register_script(_HIT)
        self._spend = self._redis.register_script(_SPEND)

    def _k(self, ident: str, window: int) -> str:
        return f"{self._prefix}:rl:{ident}:{window}"

    async def hit(self, ident: str, window: int, requests: int) -> tuple[int, int]:
        requests_now, tokens = await self._hit(keys=[self._k(ident, window)], args=[requests, KEEP_S])
        return int(requests_now), int(tokens)

    async def spend(self, ident: str, window: int, tokens: int) -> None:
        await self._spend(keys=[self._k(ident, window)], args=[tokens, KEEP_S])

    async def close(self) -> None:
        await self._redis.aclose()
