"""The response cache seam: in-process (TLRU), none, or Redis (`redis_cache`).

The cache only ever holds copies of responses the store already has; a miss falls back to the
store, so a cache that loses entries changes nothing but speed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Protocol

from cachetools import TLRUCache

from gateway.core.records import ResponseRecord


class ResponseCache(Protocol):
    name: str
    # Shared by processes (Redis): a forget that fails there is not seen by the others.
    shared: bool

    async def get(self, org: str, response_id: str) -> ResponseRecord | None: ...

    async def put(self, response: ResponseRecord) -> None: ...

    async def forget(self, org: str, response_ids: Iterable[str]) -> None: ...

    async def status(self) -> str:
        """`ok`, or `degraded` when the cache cannot be used (requests still succeed)."""

    async def close(self) -> None: ...


def _expiry_s(_key: tuple[str, str], value: ResponseRecord, _now: float) -> float:
    return value.expires_us / 1_000_000


class MemoryCache:
    """Bounded in-process cache; entries leave at the response's own expiry or by LRU."""

    name = "memory"
    shared = False

    def __init__(self, maxsize: int = 10_000) -> None:
        # The timer is wall-clock time, the clock the responses' expiry is written in.
        self._data: TLRUCache[tuple[str, str], ResponseRecord] = TLRUCache(
            maxsize=maxsize, ttu=_expiry_s, timer=time.time
        )

    async def get(self, org: str, response_id: str) -> ResponseRecord | None:
        return self._data.get((org, response_id))

    async def put(self, response: ResponseRecord) -> None:
        self._data[(response.org, response.id)] = response

    async def forget(self, org: str, response_ids: Iterable[str]) -> None:
        for rid in response_ids:
            self._data.pop((org, rid), None)

    async def status(self) -> str:
        return "ok"

    async def close(self) -> None:
        self._data.clear()


class NullCache:
    """No cache: every look-up goes to the store.

    Used when several worker processes share the embedded store, since an in-process copy in one
    worker would not learn of a thread deleted through another.
    """

    name = "none"
    shared = False

    async def get(self, org: str, response_id: str) -> ResponseRecord | None:
        return None

    async def put(self, response: ResponseRecord) -> None:
        return None

    async def forget(self, org: str, response_ids: Iterable[str]) -> None:
        return None

    async def status(self) -> str:
        return "ok"

    async def close(self) -> None:
        return None
