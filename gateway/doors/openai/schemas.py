"""The OpenAI door's request bodies (SPEC §14): msgspec Structs, strict.

Every parameter of OpenAI's `POST /v1/responses` is a field, so that one the gateway does not
implement is refused by its name (`unsupported.py`, 400) instead of as unknown; a field OpenAI does
not have is 422. Input items are decoded in a second step (`items.py`), so that an item or content
type the gateway does not serve is a 400 naming it, not a decoding error.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

ObjectId = Annotated[str, Meta(min_length=1, max_length=128)]
# OpenAI's metadata: at most 16 pairs, keys up to 64 characters, values up to 512.
Metadata = Annotated[
    dict[Annotated[str, Meta(max_length=64)], Annotated[str, Meta(max_length=512)]], Meta(max_length=16)
]
# An input item as sent; `items.py` decodes it by its `type`.
RawItem = dict[str, Any]
# OpenAI's own limit on the items of one call to the Conversations API.
MAX_ADDED_ITEMS = 20
MAX_INPUT_ITEMS = 2048
# Any JSON value: a parameter the gateway does not implement (see `unsupported.py`).
Unsupported = Any


class ConversationRef(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: ObjectId


class StreamOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # The gateway never pads its events (OpenAI's obfuscation), whichever is asked.
    include_obfuscation: bool | None = None


class OpenAIResponseCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # Absent: the conversation's assistant's model, else the gateway's default model.
    model: Annotated[str, Meta(min_length=1, max_length=256)] | None = None
    input: str | Annotated[list[RawItem], Meta(min_length=1, max_length=MAX_INPUT_ITEMS)] | None = None
    instructions: str | None = None
    previous_response_id: ObjectId | None = None
    conversation: ObjectId | ConversationRef | None = None
    store: bool | None = None
    stream: bool | None = None
    temperature: Annotated[float, Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    max_output_tokens: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None
    metadata: Metadata | None = None
    user: Annotated[str, Meta(max_length=256)] | None = None
    # The history is always fitted to the model's context window (SPEC §6), whichever is asked.
    truncation: Literal["auto", "disabled"] | None = None
    stream_options: StreamOptions | None = None
    # OpenAI's, not implemented: accepted at their defaults only (`unsupported.py`).
    access_programs: Unsupported = None
    background: Unsupported = None
    background_options: Unsupported = None
    context_management: Unsupported = None
    image: Unsupported = None
    include: Unsupported = None
    max_tool_calls: Unsupported = None
    moderation: Unsupported = None
    parallel_tool_calls: Unsupported = None
    prompt: Unsupported = None
    prompt_cache_key: Unsupported = None
    prompt_cache_options: Unsupported = None
    prompt_cache_retention: Unsupported = None
    reasoning: Unsupported = None
    safety_identifier: Unsupported = None
    service_tier: Unsupported = None
    text: Unsupported = None
    tool_choice: Unsupported = None
    tools: Unsupported = None
    top_logprobs: Unsupported = None

    def __post_init__(self) -> None:
        for name in ("temperature", "top_p"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"`{name}` must be a finite number")


class ConversationCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    items: Annotated[list[RawItem], Meta(max_length=MAX_ADDED_ITEMS)] | None = None
    metadata: Metadata | None = None


class ConversationUpdate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # Required, as OpenAI's: the conversation's metadata from now on (null: none).
    metadata: Metadata | None


class ItemsCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    items: Annotated[list[RawItem], Meta(min_length=1, max_length=MAX_ADDED_ITEMS)]
