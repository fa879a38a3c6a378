"""The thread operations of SPEC §4 and §10, door-neutral: every door's thread routes call these."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import structlog

from gateway.core.assistants import AssistantService
from gateway.core.calls import Caller
from gateway.core.records import MessagePatch, MessageRecord, Page, State, ThreadPatch, ThreadRecord
from gateway.core.rules import (
    Limits,
    apply_patch,
    check_metadata,
    is_valid_thread_id,
    merge_metadata,
    new_thread,
)
from gateway.errors import ThreadNotFound, ValidationFailed
from gateway.ids import new_id
from gateway.store.protocols import CursorNotFound, ThreadStore
from providers.base import ChatMessage, ModelRequest

TITLE_MAX = 200
_QUOTES = "\"' \u201c\u201d\u2018\u2019"  # straight and curly quotes around a model's title
# What a title is made from: the thread's first messages, each cut to a few hundred characters.
_NAME_MESSAGES = 6
_NAME_CHARS = 400
_NAME_PROMPT = (
    "Give the conversation below a short title of at most six words. Answer with the title only, "
    "without quotes."
)


def known_id(thread_id: str) -> str:
    """A thread id as given in a path: one that cannot exist is simply not found."""
    if not is_valid_thread_id(thread_id):
        raise ThreadNotFound(thread_id[:128])
    structlog.contextvars.bind_contextvars(thread_id=thread_id)
    return thread_id


def _unknown_cursor(name: str, value: str) -> ValidationFailed:
    return ValidationFailed(f"`{name}` names no item of this list.", details={name: value[:256]})


def title_of(answer: str) -> str:
    """A model's answer as a title: its first line, without quotes, at most `TITLE_MAX` characters."""
    line = next((ln.strip() for ln in answer.splitlines() if ln.strip()), "")
    return line.strip(_QUOTES).strip()[:TITLE_MAX]


class ThreadService:
    def __init__(
        self,
        threads: ThreadStore,
        caller: Caller,
        limits: Limits,
        clock: Callable[[], int],
        *,
        assistants: AssistantService,
    ) -> None:
        self._threads = threads
        self._assistants = assistants
        self._caller = caller
        self._limits = limits
        self._clock = clock

    async def create(
        self,
        org: str,
        thread_id: str | None,
        *,
        metadata: dict[str, Any] | None,
        visible: bool,
        title: str | None = None,
        assistant_id: str | None = None,
        user: str | None = None,
    ) -> ThreadRecord:
        """A new, empty thread, under `assistant_id` and for `user` when given (both set now, for
        the thread's life); 409 `THREAD_ALREADY_EXISTS` when the id is live; 404
        `ASSISTANT_NOT_FOUND`."""
        if assistant_id is not None:
            await self._assistants.get(org, assistant_id)
        thread = new_thread(
            org,
            thread_id or new_id("thread"),
            metadata=metadata,
            visible=visible,
            limits=self._limits,
            at_us=self._clock(),
            user=user,
        )
        if title or assistant_id:
            thread = msgspec.structs.replace(thread, title=title or None, assistant_id=assistant_id)
        return await self._threads.create_thread(thread)

    async def get(self, org: str, thread_id: str) -> ThreadRecord:
        tid = known_id(thread_id)
        thread = await self._threads.get_thread(org, tid, self._clock())
        if thread is None:
            raise ThreadNotFound(tid)
        return thread

    async def page(
        self,
        org: str,
        *,
        visible: bool,
        state: State | None,
        limit: int,
        after: str | None,
        before: str | None = None,
        descending: bool = True,
        pinned: bool | None = None,
        with_total: bool = False,
        assistant_id: str | None = None,
    ) -> Page[ThreadRecord]:
        """A page of the organization's threads; `assistant_id`: only that assistant's (an unknown
        assistant's list is empty, as another organization's is)."""
        if after is not None and before is not None:
            raise ValidationFailed("Give `after` or `before`, not both.")
        try:
            return await self._threads.list_threads(
                org,
                visible=visible,
                state=state,
                limit=limit,
                after=after,
                before=before,
                descending=descending,
                pinned=pinned,
                with_total=with_total,
                assistant_id=assistant_id,
                at_us=self._clock(),
            )
        except CursorNotFound as exc:
            name = "after" if after is not None else "before"
            raise _unknown_cursor(name, str(exc)) from None

    async def messages(
        self,
        org: str,
        thread_id: str,
        *,
        limit: int,
        after: str | None,
        descending: bool,
        before: str | None = None,
    ) -> Page[MessageRecord]:
        tid = known_id(thread_id)
        if after is not None and before is not None:
            raise ValidationFailed("Give `after` or `before`, not both.")
        try:
            found = await self._threads.list_messages(
                org, tid, limit=limit, after=after, before=before, descending=descending, at_us=self._clock()
            )
        except CursorNotFound as exc:
            raise _unknown_cursor("after" if after is not None else "before", str(exc)) from None
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

    async def delete_all(self, org: str) -> int:
        """Every thread of the organization (each id tombstoned); how many there were."""
        deleted, _ = await self._threads.delete_all_threads(org, self._clock())
        return deleted

    async def edit_message(
        self, org: str, thread_id: str, message_id: str, change: MessagePatch
    ) -> MessageRecord:
        tid = known_id(thread_id)
        limits = self._limits

        def edit(m: MessageRecord) -> MessageRecord:
            metadata = m.metadata
            if change.metadata:
                metadata = merge_metadata(m.metadata, change.metadata)
                check_metadata(metadata, limits)
            texts = m.texts if change.content is None else (change.content,)
            return msgspec.structs.replace(m, texts=texts, metadata=metadata)

        return await self._threads.update_message(org, tid, message_id[:128], edit, self._clock())

    async def delete_message(self, org: str, thread_id: str, message_id: str) -> None:
        await self._threads.delete_message(org, known_id(thread_id), message_id[:128], self._clock())

    async def generate_name(
        self, org: str, thread_id: str, model: str | None, messages: list[tuple[str, str]] | None = None
    ) -> ThreadRecord:
        """A title made by a model call (nothing of it saved) over the thread's first messages (or
        the `messages` given), saved as the thread's title. The model: the one named, else the
        thread's last, else `echo`."""
        thread = await self.get(org, thread_id)
        if messages is None:
            page = await self.messages(org, thread.id, limit=_NAME_MESSAGES, after=None, descending=False)
            messages = [(m.role, " ".join(m.texts)) for m in page.items]
        transcript = "\n".join(f"{role}: {text[:_NAME_CHARS]}" for role, text in messages[:_NAME_MESSAGES])
        name = model or thread.last_model or "echo"
        routes = self._caller.routes(name)
        request = ModelRequest(
            model=routes[0].model,
            messages=(
                ChatMessage("system", (_NAME_PROMPT,)),
                ChatMessage("user", (transcript or "(empty)",)),
            ),
            max_output_tokens=32,
        )
        completion = await self._caller.complete(routes, request)
        return await self.update(org, thread.id, ThreadPatch(title=title_of(completion.text) or "Untitled"))
