"""The wire format (SPEC §3, §4): msgspec Structs for request and response bodies."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, field

from gateway.core.records import State
from gateway.core.rules import THREAD_ID_MAX, THREAD_ID_RE

ThreadId = Annotated[
    str,
    Meta(
        pattern=THREAD_ID_RE.pattern,
        min_length=1,
        max_length=THREAD_ID_MAX,
        description="1-128 of A-Z a-z 0-9 _ - . :, not only dots",
    ),
]
ObjectId = Annotated[str, Meta(min_length=1, max_length=128)]
Metadata = dict[str, Any]


# -- requests ---------------------------------------------------------------------------------------


class TextPart(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    text: str
    type: Literal["text", "input_text", "output_text"] | None = None


class InputItem(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`{"role", "texts": [{"text"}]}` or `{"role", "content": str}`; `id` and `type` let an
    output item be sent back as an input."""

    role: Literal["user", "assistant", "system"]
    texts: list[TextPart] | None = None
    content: str | None = None
    id: ObjectId | None = None
    type: Literal["message"] | None = None

    def __post_init__(self) -> None:
        if (self.texts is None) == (self.content is None):
            raise ValueError("an input item needs exactly one of `texts` or `content`")
        if self.texts is not None and not self.texts:
            raise ValueError("`texts` must not be empty")

    def text_values(self) -> tuple[str, ...]:
        if self.content is not None:
            return (self.content,)
        return tuple(p.text for p in self.texts or ())


class ThreadRef(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: ThreadId
    metadata: Metadata | None = None


class ResponseRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    model: Annotated[str, Meta(min_length=1, max_length=256)]
    inputs: Annotated[list[InputItem], Meta(min_length=1)]
    thread: ThreadId | ThreadRef | None = None
    thread_id: ThreadId | None = None
    thread_state: State | None = field(default=None, name="threadState")
    store: bool = True
    previous_response_id: ObjectId | None = field(default=None, name="previousResponseId")
    organization_id: ObjectId | None = None
    instructions: str | None = None
    stream: bool = False
    temperature: Annotated[float, Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    max_output_tokens: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None

    def __post_init__(self) -> None:
        for name in ("temperature", "top_p"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"`{name}` must be a finite number")


class ThreadCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: ThreadId | None = None
    metadata: Metadata | None = None
    visible_in_ui: bool = True
    organization_id: ObjectId | None = None


class ThreadUpdateBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    metadata: Metadata | None = None
    state: State | None = None
    visible_in_ui: bool | None = None


# -- responses --------------------------------------------------------------------------------------


class TextOut(msgspec.Struct, frozen=True):
    text: str


class OutputItem(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    type: str = "message"
    role: str = "assistant"
    texts: list[TextOut]


class ResponseUsage(msgspec.Struct, frozen=True, kw_only=True):
    input_tokens: int
    output_tokens: int
    total_tokens: int


class ResponseObject(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: str = "response"
    created_at: str
    status: str
    model: str
    thread_id: str | None
    previous_response_id: str | None
    output: list[OutputItem]
    output_text: str
    usage: ResponseUsage | None


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


class MessageObject(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: str = "thread.message"
    thread_id: str | None
    role: str
    texts: list[TextOut]
    response_id: str | None
    created_at: str


class ListObject[T](msgspec.Struct, frozen=True, kw_only=True):
    """A page of a list (SPEC §4.2): `after` = `last_id` walks it."""

    object: str = "list"
    data: list[T]
    first_id: str | None
    last_id: str | None
    has_more: bool


ThreadList = ListObject[ThreadObject]
MessageList = ListObject[MessageObject]


def iso(us: int) -> str:
    """RFC 3339 UTC with milliseconds, e.g. `2026-01-06T10:30:00.000Z`."""
    return datetime.fromtimestamp(us / 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
