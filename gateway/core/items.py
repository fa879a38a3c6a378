"""A thread's items without a model call (SPEC §14, OpenAI's Conversations API), door-neutral:
messages added as they are given, a thread made with its first messages, one message found by id,
a thread's metadata replaced, a stored response deleted.

Messages are added the way a turn adds them: under the thread's lease (so they fall between turns,
never inside one), in one atomic append that checks the thread's rules (state, message limit).
The store appends messages only with a response (`TurnWrite`), so an append of items carries a
bookkeeping response that is already expired when written: no look-up ever returns it, the purge
removes it, and it goes with its thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from gateway import errors
from gateway.core.records import MessageRecord, ResponseRecord, ThreadPatch, ThreadRecord, Usage
from gateway.core.rules import Limits, apply_patch, apply_turn, check_message_limit, new_thread
from gateway.core.threads import known_id
from gateway.ids import new_id
from gateway.store.locks import TurnLocks
from gateway.store.protocols import Backend, CursorNotFound, TurnWrite
from providers.base import ChatMessage


def replacing(current: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    """The key-by-key patch (a `None` value removes a key) that turns `current` into `metadata`."""
    patch: dict[str, Any] = {k: None for k in current if k not in metadata}
    patch.update({k: v for k, v in metadata.items() if current.get(k, ...) != v})
    return patch


class ItemService:
    def __init__(
        self,
        store: Backend,
        locks: TurnLocks,
        limits: Limits,
        *,
        turn_wait_s: float,
        clock: Callable[[], int],
    ) -> None:
        self._threads = store.threads
        self._responses = store.responses
        self._locks = locks
        self._limits = limits
        self._turn_wait_s = turn_wait_s
        self._clock = clock

    async def create(
        self, org: str, thread_id: str, *, metadata: dict[str, Any] | None, items: Sequence[ChatMessage]
    ) -> tuple[ThreadRecord, list[MessageRecord]]:
        """A new visible thread holding `items`, made in one write. `thread_id` is a new id (a
        generated one): with items, a live thread of that id would be extended, not refused."""
        at = self._clock()
        thread = new_thread(org, thread_id, metadata=metadata, visible=True, limits=self._limits, at_us=at)
        if not items:
            return await self._threads.create_thread(thread), []
        check_message_limit(0, len(items), self._limits, thread_id)
        return await self._append(org, thread_id, items, create=thread)

    async def add(
        self, org: str, thread_id: str, items: Sequence[ChatMessage]
    ) -> tuple[ThreadRecord, list[MessageRecord]]:
        """`items` appended to a live thread, in order, between two turns."""
        return await self._append(org, known_id(thread_id), items, create=None)

    async def _append(
        self, org: str, thread_id: str, items: Sequence[ChatMessage], *, create: ThreadRecord | None
    ) -> tuple[ThreadRecord, list[MessageRecord]]:
        lease = await self._locks.acquire(org, thread_id, wait_s=self._turn_wait_s)
        if lease is None:
            raise errors.ThreadBusy(thread_id)
        try:
            at = self._clock()
            carrier = new_id("items")
            messages = [
                MessageRecord(
                    id=new_id("msg"),
                    role=m.role,
                    texts=m.texts,
                    response_id=carrier,
                    created_us=at,
                    thread_id=thread_id,
                )
                for m in items
            ]
            limits, n = self._limits, len(messages)
            write = TurnWrite(
                org=org,
                thread_id=thread_id,
                create=create,
                messages=messages,
                response=ResponseRecord(
                    org=org,
                    id=carrier,
                    model="",
                    created_us=at,
                    expires_us=at,  # expired from the start: never looked up, only purged
                    thread_id=thread_id,
                    previous_response_id=None,
                    output_message_id=messages[-1].id,
                    output_text="",
                    usage=Usage(),
                ),
                update=lambda t: apply_turn(
                    t, adding=n, usage=Usage(), next_state=None, limits=limits, at_us=at
                ),
                at_us=at,
                lease=lease,
            )
            thread = await self._threads.append_turn(write)
        finally:
            await self._locks.release(lease)
        return thread, messages

    async def message(self, org: str, thread_id: str, message_id: str) -> MessageRecord:
        """One message of a live thread by its id; 404 `MESSAGE_NOT_FOUND` (`THREAD_NOT_FOUND`)."""
        tid, at = known_id(thread_id), self._clock()
        mid = message_id[:128]
        # The lists page by message id: the one just before it (newest first), then the next one.
        try:
            older = await self._threads.list_messages(org, tid, limit=1, after=mid, descending=True, at_us=at)
            if older is None:
                raise errors.ThreadNotFound(tid)
            after = older.items[0].id if older.items else None
            found = await self._threads.list_messages(
                org, tid, limit=1, after=after, descending=False, at_us=at
            )
        except CursorNotFound:
            raise errors.MessageNotFound(mid) from None
        if found is None:
            raise errors.ThreadNotFound(tid)
        if not found.items or found.items[0].id != mid:
            raise errors.MessageNotFound(mid)  # deleted meanwhile
        return found.items[0]

    async def replace_metadata(self, org: str, thread_id: str, metadata: dict[str, Any]) -> ThreadRecord:
        """The thread's metadata becomes `metadata`, under the rules of a PATCH (archived: 409)."""
        tid, at, limits = known_id(thread_id), self._clock(), self._limits

        def update(t: ThreadRecord) -> ThreadRecord:
            return apply_patch(t, ThreadPatch(metadata=replacing(t.metadata, metadata)), limits, at)

        return await self._threads.update_thread(org, tid, update, at)

    async def delete_response(self, org: str, response_id: str) -> None:
        """A stored response removed (a thread's messages stay): 404 `RESPONSE_NOT_FOUND` as for a
        look-up when it is not live."""
        at = self._clock()
        if await self._responses.get_response(org, response_id, at) is None:
            raise errors.ResponseNotFound(response_id)
        if not await self._responses.delete_response(org, response_id, at):
            raise errors.ResponseNotFound(response_id)
