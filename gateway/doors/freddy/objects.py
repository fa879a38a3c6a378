"""The Freddy door's answers (SPEC §3, §4, §10): msgspec Structs for response bodies.

Freddy's clients parse some fields under other names or shapes (`createdAt` as Unix seconds,
`content` blocks beside `texts`, `response`, `response_id`, `success`): the objects carry both.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.core.memory_records import RetrievedMemory
from gateway.core.records import State

Metadata = dict[str, Any]


class TextOut(msgspec.Struct, frozen=True):
    text: str


class OutputText(msgspec.Struct, frozen=True, kw_only=True):
    type: str = "output_text"
    text: str
    annotations: list[Any] = msgspec.field(default_factory=list)


class OutputItem(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    type: str = "message"
    role: str = "assistant"
    status: str = "completed"
    texts: list[TextOut]
    content: list[OutputText]


class ResponseUsage(msgspec.Struct, frozen=True, kw_only=True):
    input_tokens: int
    output_tokens: int
    total_tokens: int


class ContextUsage(msgspec.Struct, frozen=True, kw_only=True):
    """How full the model's context window was for a turn (SPEC §12)."""

    percent: float
    used_tokens: int
    context_limit: int
    summary_tokens: int
    model: str


class ResponseObject(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: str = "response"
    created_at: str
    created_at_unix: int = msgspec.field(name="createdAt")
    status: str
    model: str
    thread_id: str | None
    previous_response_id: str | None
    output: list[OutputItem]
    output_text: str
    usage: ResponseUsage | None
    # The same answer under the names Freddy's clients read.
    success: bool = True
    response: str
    response_id: str
    is_summarized: bool = False
    context_usage: ContextUsage | msgspec.UnsetType = msgspec.UNSET
    assistant_id: str | None = None
    # Memory (SPEC §12): the write job of an `auto` turn, the memories its model was given.
    memory_operation_id: str | None = None
    retrieved_memories: list[RetrievedMemory] | None = None


class ThreadUsage(msgspec.Struct, frozen=True, kw_only=True):
    input_tokens: int
    output_tokens: int


class ThreadObject(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: str = "thread"
    organization_id: str
    state: State
    visible_in_ui: bool
    metadata: Metadata
    message_count: int
    usage: ThreadUsage
    created_at: str
    updated_at: str
    last_message_at: str | None
    expires_at: str
    title: str | None
    assistant_id: str | None = None
    is_pinned: bool
    pinned_at: str | None
    last_model_used: str | None
    # The end user its turns' memory is scoped to (SPEC §12), set when it was created.
    user: str | None = None


class MessageObject(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: str = "thread.message"
    thread_id: str | None
    role: str
    texts: list[TextOut]
    content: str  # the texts joined by a newline
    metadata: Metadata
    response_id: str | None
    created_at: str


class ListObject[T](msgspec.Struct, frozen=True, kw_only=True):
    """A page of a list (SPEC §4.2): `after` = `last_id` walks it."""

    object: str = "list"
    data: list[T]
    first_id: str | None
    last_id: str | None
    has_more: bool
    limit: int
    # Only when asked for (`include_total=true`): counting costs a query.
    total: int | msgspec.UnsetType = msgspec.UNSET


ThreadList = ListObject[ThreadObject]
MessageList = ListObject[MessageObject]


class PinnedThread(ThreadObject, frozen=True, kw_only=True):
    """A pin's answer: the thread, and what happened (Freddy's clients read `message`)."""

    message: str


class DeletedMessage(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: str = "thread.message.deleted"
    deleted: bool = True


class DeletedAll(msgspec.Struct, frozen=True, kw_only=True):
    success: bool = True
    deleted: int
    message: str


class CancelOutcome(msgspec.Struct, frozen=True, kw_only=True):
    success: bool
    cancel_mode: str
    elapsed_seconds: float
    user_message_deleted: bool
    assistant_response_deleted: bool
    partial_content_saved: bool
