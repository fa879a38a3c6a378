"""The Freddy door's request bodies (SPEC §3, §4, §10): msgspec Structs, strict.

Freddy's clients name some fields in two ways (`thread_id` and `threadId`, ...): both are fields
here, and `turn.py` takes whichever is given (a request giving both, differently, is refused).
Fields of Freddy's API that the gateway does not implement are fields too (`Unsupported`), so that
their default values pass and anything else is refused by name (`unsupported.py`).
"""

from __future__ import annotations

import math
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


# Any JSON value: a field of Freddy's API that the gateway does not implement (see `unsupported.py`).
Unsupported = Any


class TextPart(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    text: str
    type: Literal["text", "input_text", "output_text"] | None = None
    # Sent back with an output item's content.
    annotations: list[Unsupported] | None = None


class InputItem(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`{"role", "texts": [{"text"}]}` or `{"role", "content": str | [{"type", "text"}]}`; `id`,
    `type` and `status` let an output item be sent back as an input."""

    role: Literal["user", "assistant", "system"]
    texts: list[TextPart] | None = None
    content: str | list[TextPart] | None = None
    id: ObjectId | None = None
    type: Literal["message"] | None = None
    status: Annotated[str, Meta(max_length=64)] | None = None

    def __post_init__(self) -> None:
        if self.texts is None and self.content is None:
            raise ValueError("an input item needs `texts` or `content`")
        if self.texts is not None and not self.texts:
            raise ValueError("`texts` must not be empty")
        if isinstance(self.content, list) and not self.content:
            raise ValueError("`content` must not be empty")
        # An output item sent back carries both, the same texts twice (SPEC §10).
        if self.texts is not None and self.content is not None:
            blocks = (self.content,) if isinstance(self.content, str) else tuple(p.text for p in self.content)
            if blocks != tuple(p.text for p in self.texts):
                raise ValueError("`texts` and `content` of an input item must carry the same texts")

    def text_values(self) -> tuple[str, ...]:
        if isinstance(self.content, str):
            return (self.content,)
        return tuple(p.text for p in self.texts or self.content or ())


class ThreadRef(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: ThreadId
    metadata: Metadata | None = None


class ResponseRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # Absent: the model of the turn's assistant (SPEC §11); required when no assistant can give one.
    model: Annotated[str, Meta(min_length=1, max_length=256)] | None = None
    inputs: Annotated[list[InputItem], Meta(min_length=1)]
    thread: ThreadId | ThreadRef | None = None
    thread_id: ThreadId | None = None
    thread_id_camel: ThreadId | None = field(default=None, name="threadId")
    thread_state: State | None = field(default=None, name="threadState")
    store: bool = True
    previous_response_id: ObjectId | None = field(default=None, name="previousResponseId")
    previous_response_id_snake: ObjectId | None = field(default=None, name="previous_response_id")
    organization_id: ObjectId | None = None
    organization_id_camel: ObjectId | None = field(default=None, name="organizationId")
    assistant_id: ObjectId | None = None
    assistant_id_camel: ObjectId | None = field(default=None, name="assistantId")
    instructions: str | None = None
    stream: bool = False
    temperature: Annotated[float, Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    max_output_tokens: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None
    max_tokens_camel: Annotated[int, Meta(ge=1, le=1_000_000)] | None = field(default=None, name="maxTokens")
    max_output_synapses: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None
    # Memory (SPEC §12): the turn's mode (auto, readonly, off; any case) and the end user it is for.
    memory: Annotated[str, Meta(max_length=16)] | None = None
    user: Annotated[str, Meta(min_length=1, max_length=256)] | None = None
    # Freddy's, not implemented: accepted at their defaults only (`unsupported.py`).
    tools: Unsupported = None
    system_tools: Unsupported = None
    files: Unsupported = None
    vector_store_ids: Unsupported = None
    space_id: Unsupported = None
    workflow_id: Unsupported = None
    reasoning: Unsupported = None
    include: Unsupported = None
    output_mode: Unsupported = None
    disable_rules: Unsupported = None
    edit_message_id: Unsupported = None
    previous_message_id: Unsupported = None
    metadata: Unsupported = None
    response_format: Unsupported = field(default=None, name="responseFormat")

    def __post_init__(self) -> None:
        for name in ("temperature", "top_p"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"`{name}` must be a finite number")


Title = Annotated[str, Meta(max_length=200)]


class ThreadCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: ThreadId | None = None
    metadata: Metadata | None = None
    visible_in_ui: bool = True
    organization_id: ObjectId | None = None
    title: Title | None = None
    assistant_id: ObjectId | None = None
    # The end user whose memories the thread's turns read and write (SPEC §12), for its life.
    user: Annotated[str, Meta(min_length=1, max_length=256)] | None = None


class ThreadUpdateBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    metadata: Metadata | None = None
    state: State | None = None
    visible_in_ui: bool | None = None
    title: Title | None = None
    assistant_id: ObjectId | None = None


class MessageUpdateBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    content: str | None = None
    metadata: Metadata | None = None


class NameMessage(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    role: Literal["user", "assistant", "system"]
    content: str


class GenerateNameBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    model: Annotated[str, Meta(min_length=1, max_length=256)] | None = None
    # The messages to title the thread from, instead of its own first ones.
    messages: Annotated[list[NameMessage], Meta(max_length=50)] | None = None
