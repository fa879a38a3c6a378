"""A backend with the response cache in front of its responses: the only code that touches the cache.

The cache only ever holds copies of responses the store has: a response is cached after the store
saved it, read from the cache before the store, and forgotten when the store deletes it (a deleted
thread, the purge). A cache that loses entries changes nothing but speed.

A deletion that cannot reach a shared cache (Redis partitioned from one worker) must not let another
worker, or the same one after a restart, serve the deleted response: a hit on a response of a
thread is served only while the store still has that thread, in the same generation (created no
later than the response). The check is one point read of the thread; the context itself still
comes from the cache. Invalidation is therefore never lost, however the forget fails.

Being the one wrapper around every backend, it is also where store operations are timed (and
traced) and cache look-ups counted, through the app's probe (`gateway.observability.probe`).
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.core.records import ResponseRecord, ThreadRecord
from gateway.observability.probe import NO_PROBE, Probe
from gateway.store.cache import ResponseCache
from gateway.store.jobs import JobStore, NewJob
from gateway.store.protocols import (
    AssistantStore,
    Backend,
    CancelStore,
    IdemDone,
    IdempotencyStore,
    MemoryStore,
    PurgeReport,
    ResponseStore,
    SharedLocks,
    SummaryStore,
    ThreadStore,
    TurnWrite,
)


class CachedThreads:
    """A `ThreadStore` whose deletions and turns keep the response cache right.

    The reads pass through unchanged (by attribute); only the writes that make or remove responses
    are wrapped.
    """

    def __init__(
        self, threads: ThreadStore, cache: ResponseCache, probe: Probe = NO_PROBE, backend: str = ""
    ) -> None:
        self._threads = threads
        self._cache = cache
        timed = probe.timed
        self.create_thread = timed("create_thread", backend, threads.create_thread)
        self.get_thread = timed("get_thread", backend, threads.get_thread)
        self.is_tombstoned = timed("is_tombstoned", backend, threads.is_tombstoned)
        self.turn_view = timed("turn_view", backend, threads.turn_view)
        self.list_threads = timed("list_threads", backend, threads.list_threads)
        self.update_thread = timed("update_thread", backend, threads.update_thread)
        self.list_messages = timed("list_messages", backend, threads.list_messages)
        # An edit sets the thread's `edited_us`, which the cache's check of a hit reads.
        self.update_message = timed("update_message", backend, threads.update_message)
        self.delete_message = timed("delete_message", backend, threads.delete_message)
        self.recent_messages = timed("recent_messages", backend, threads.recent_messages)
        self.system_messages = timed("system_messages", backend, threads.system_messages)
        self._delete_thread = timed("delete_thread", backend, threads.delete_thread)
        self._delete_all = timed("delete_all_threads", backend, threads.delete_all_threads)
        self._append_turn = timed("append_turn", backend, threads.append_turn)

    async def delete_thread(self, org: str, thread_id: str, at_us: int) -> tuple[str, ...] | None:
        removed = await self._delete_thread(org, thread_id, at_us)
        if removed:
            await self._cache.forget(org, removed)
        return removed

    async def delete_all_threads(self, org: str, at_us: int) -> tuple[int, tuple[str, ...]]:
        deleted, removed = await self._delete_all(org, at_us)
        if removed:
            await self._cache.forget(org, removed)
        return deleted, removed

    async def append_turn(self, turn: TurnWrite) -> ThreadRecord:
        thread = await self._append_turn(turn)
        # The cache holds the whole context, so a later look-up reads no thread messages.
        await self._cache.put(turn.response)
        return thread


class CachedResponses:
    """A `ResponseStore` read through the cache."""

    def __init__(
        self,
        responses: ResponseStore,
        threads: ThreadStore,
        cache: ResponseCache,
        probe: Probe = NO_PROBE,
        backend: str = "",
    ) -> None:
        self._responses = responses
        self._threads = threads
        self._cache = cache
        self._probe = probe
        self._save = probe.timed("save_response", backend, responses.save_response)
        self._get = probe.timed("get_response", backend, responses.get_response)
        self._delete = probe.timed("delete_response", backend, responses.delete_response)
        self._get_thread = probe.timed("get_thread", backend, threads.get_thread)

    async def save_response(
        self, response: ResponseRecord, idempotency: IdemDone | None = None, jobs: Sequence[NewJob] = ()
    ) -> None:
        await self._save(response, idempotency, jobs)
        await self._keep(response)

    async def _keep(self, response: ResponseRecord) -> None:
        # A shared cache would have to be asked the store anyway for a response of no thread.
        if response.thread_id is not None or not self._cache.shared:
            await self._cache.put(response)

    async def _thread_stands(self, response: ResponseRecord, at_us: int) -> bool:
        """Whether the thread a cached response was made on still holds it (a response of a thread
        deleted on its own marks its thread edited: see `delete_response`)."""
        if response.thread_id is None:
            # Not a thread's: it leaves by its expiry, which the cache keeps, or by its deletion,
            # which a shared cache may have missed (a forget that could not reach it): there only
            # the store can tell, and its copy is the whole answer.
            return not self._cache.shared
        thread = await self._get_thread(response.org, response.thread_id, at_us)
        # The same generation of the id, and no message of it edited or deleted since.
        return (
            thread is not None
            and thread.created_us <= response.created_us
            and (thread.edited_us or 0) <= response.created_us
        )

    async def get_response(self, org: str, response_id: str, at_us: int) -> ResponseRecord | None:
        """One round trip when cached, else one to the store (and the answer is cached)."""
        found = await self._cache.get(org, response_id)
        if found is not None and not await self._thread_stands(found, at_us):
            self._probe.cache("stale")
            await self._cache.forget(org, [response_id])
            found = None  # the store decides (its own copy went with the thread)
        elif found is not None:
            self._probe.cache("hit")
        else:
            self._probe.cache("miss")
        if found is None:
            found = await self._get(org, response_id, at_us)
            if found is not None:
                await self._keep(found)
        if found is None or found.org != org or found.expires_us <= at_us:
            return None
        return found

    async def delete_response(self, org: str, response_id: str, at_us: int) -> bool:
        """Removed from the store, then forgotten by the cache. A forget that cannot reach a shared
        cache is caught by a later hit's check either way: the store marks the response's thread
        edited in the same write, and a response of no thread is not served from a shared cache."""
        deleted = await self._delete(org, response_id, at_us)
        await self._cache.forget(org, [response_id])
        return deleted


class CachedStore:
    """`backend` with `cache` in front of its responses; itself a `Backend`."""

    def __init__(self, backend: Backend, cache: ResponseCache, probe: Probe = NO_PROBE) -> None:
        self._backend = backend
        self._cache = cache
        self.name = backend.name
        self._threads = CachedThreads(backend.threads, cache, probe, backend.name)
        self._responses = CachedResponses(backend.responses, backend.threads, cache, probe, backend.name)

    @property
    def threads(self) -> CachedThreads:
        return self._threads

    @property
    def responses(self) -> CachedResponses:
        return self._responses

    @property
    def assistants(self) -> AssistantStore:
        return self._backend.assistants

    @property
    def turn_locks(self) -> SharedLocks:
        return self._backend.turn_locks

    @property
    def idempotency(self) -> IdempotencyStore:
        return self._backend.idempotency

    @property
    def cancels(self) -> CancelStore:
        return self._backend.cancels

    @property
    def jobs(self) -> JobStore:
        return self._backend.jobs

    @property
    def memories(self) -> MemoryStore:
        return self._backend.memories

    @property
    def summaries(self) -> SummaryStore:
        return self._backend.summaries

    @property
    def cache_name(self) -> str:
        return self._cache.name

    async def cache_status(self) -> str:
        """`ok`, or `degraded` when the cache cannot be used (requests still succeed)."""
        return await self._cache.status()

    async def open(self) -> None:
        await self._backend.open()

    async def close(self) -> None:
        try:
            await self._cache.close()
        finally:
            await self._backend.close()

    async def ping(self) -> None:
        await self._backend.ping()

    async def purge_expired(self, at_us: int) -> PurgeReport:
        report = await self._backend.purge_expired(at_us)
        by_org: dict[str, list[str]] = {}
        for org, rid in report.response_ids:
            by_org.setdefault(org, []).append(rid)
        for org, ids in by_org.items():
            await self._cache.forget(org, ids)
        return report
