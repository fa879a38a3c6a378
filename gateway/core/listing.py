"""Whole lists of an organization, page by page (the CLI's `threads list` and `threads export`):
bounded pages walked by their cursor, so that memory holds one page, never the list."""

from __future__ import annotations

from collections.abc import AsyncIterator

from gateway.core.records import MessageRecord, ThreadRecord
from gateway.errors import ThreadNotFound
from gateway.store.protocols import ThreadStore

PAGE = 100  # the API's largest page (SPEC §4.2)


async def every_thread(
    store: ThreadStore, org: str, *, visible: bool, at_us: int, page: int = PAGE
) -> AsyncIterator[ThreadRecord]:
    """The organization's visible (or hidden) threads, newest activity first. A live store is no
    snapshot: a thread with a turn during the walk may move past the cursor and be missed, or shown
    twice; a thread deleted meanwhile that is a page's cursor ends the walk (`CursorNotFound`)."""
    after: str | None = None
    while True:
        found = await store.list_threads(
            org, visible=visible, state=None, limit=page, after=after, at_us=at_us
        )
        for thread in found.items:
            yield thread
        if not found.has_more or not found.items:
            return
        after = found.items[-1].id


async def every_message(
    store: ThreadStore, org: str, thread_id: str, *, at_us: int, page: int = PAGE
) -> AsyncIterator[MessageRecord]:
    """The thread's messages in order; `ThreadNotFound` when the thread is absent (or is deleted
    during the walk)."""
    after: str | None = None
    while True:
        found = await store.list_messages(
            org, thread_id, limit=page, after=after, descending=False, at_us=at_us
        )
        if found is None:
            raise ThreadNotFound(thread_id)
        for message in found.items:
            yield message
        if not found.has_more or not found.items:
            return
        after = found.items[-1].id
