"""The thread operations of SPEC §4, door-neutral: every door's thread routes call these."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from gateway.core.records import MessageRecord, Page, State, ThreadPatch, ThreadRecord
from gateway.core.rules import Limits, apply_patch, is_valid_thread_id, new_thread
from gateway.errors import ThreadNotFound, ValidationFailed
from gateway.ids import new_id
from gateway.store.protocols import CursorNotFound, ThreadStore


def known_id(thread_id: str) -> str:
    """A thread id as given in a path: one that cannot exist is simply not found."""
    if not is_valid_thread_id(thread_id):
        raise ThreadNotFound(thread_id[:128])
    structlog.contextvars.bind_contextvars(thread_id=thread_id)
    return thread_id


def _unknown_cursor(after: str) -> ValidationFailed:
    return ValidationFailed("`after` names no item of this list.", details={"after": after[:256]})


class ThreadService:
    def __init__(self, threads: ThreadStore, limits: Limits, clock: Callable[[], int]) -> None:
        self._threads = threads
        self._limits = limits
        self._clock = clock

    async def create(
        self, org: str, thread_id: str | None, *, metadata: dict[str, Any] | None, visible: bool
    ) -> ThreadRecord:
        """A new, empty thread; 409 `THREAD_ALREADY_EXISTS` when the id is live."""
        thread = new_thread(
            org,
            thread_id or new_id("thread"),
            metadata=metadata,
            visible=visible,
            limits=self._limits,
            at_us=self._clock(),
        )
        return await self._threads.create_thread(thread)

    async def get(self, org: str, thread_id: str) -> ThreadRecord:
        tid = known_id(thread_id)
        thread = await self._threads.get_thread(org, tid, self._clock())
        if thread is None:
            raise ThreadNotFound(tid)
        return thread

    async def list(
        self, org: str, *, visible: bool, state: State | None, limit: int, after: str | None
    ) -> Page[ThreadRecord]:
        try:
            return await self._threads.list_threads(
                org, visible=visible, state=state, limit=limit, after=after, at_us=self._clock()
            )
        except CursorNotFound:
            raise _unknown_cursor(after or "") from None

    async def messages(
        self, org: str, thread_id: str, *, limit: int, after: str | None, descending: bool
    ) -> Page[MessageRecord]:
        tid = known_id(thread_id)
        try:
            found = await self._threads.list_messages(
                org, tid, limit=limit, after=after, descending=descending, at_us=self._clock()
            )
        except CursorNotFound:
            raise _unknown_cursor(after or "") from None
        if found is None:
            raise ThreadNotFound(tid)
        return found

    async def update(self, org: str, thread_id: str, change: ThreadPatch) -> ThreadRecord:
        """PATCH of SPEC §4.2, under the store's atomic read-modify-write."""
        tid = known_id(thread_id)
        at, limits = self._clock(), self._limits
        return await self._threads.update_thread(org, tid, lambda t: apply_patch(t, change, limits, at), at)

    async def delete(self, org: str, thread_id: str) -> None:
        """The thread, its messages and its responses; 404 everywhere afterwards."""
        tid = known_id(thread_id)
        if await self._threads.delete_thread(org, tid, self._clock()) is None:
            raise ThreadNotFound(tid)
