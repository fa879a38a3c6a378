"""The Backboard door's request bodies (SPEC §13), as `backboard-sdk` 1.5.19 sends them: msgspec
Structs, strict, unknown fields refused (422).

Fields of Backboard's API that the gateway does not implement (tools, web search, media, voice,
...) are fields too (`Unsupported`), so that their defaults pass and anything else is refused by
name with 400 `UNSUPPORTED_PARAMETER` (`unsupported.py`): a request is never silently half-served.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

# An id in a body: checked to be a UUID by the door (other ids are absent there: 404).
Id = Annotated[str, Meta(max_length=128)]
Name = Annotated[str, Meta(max_length=256)]
ProviderName = Annotated[str, Meta(min_length=1, max_length=64)]
ModelName = Annotated[str, Meta(min_length=1, max_length=256)]
Mode = Annotated[str, Meta(max_length=64)]
Metadata = dict[str, Any]
# Any JSON value (or form text): a field the gateway does not implement.
Unsupported = Any


class BackboardMessageBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A turn: `POST /api/threads/messages` (JSON, form or multipart) and the older
    `POST /api/threads/{thread_id}/messages` (form or multipart)."""

    content: str | None = None
    thread_id: Id | None = None
    assistant_id: Id | None = None
    llm_provider: ProviderName | None = None
    model_name: ModelName | None = None
    stream: bool = False
    # off / Auto / Readonly, any case (SPEC §12); None: the assistant's.
    memory: Mode | None = None
    # For this turn only, not saved (as Backboard's `send_message` documents it).
    system_prompt: str | None = None
    # The end user whose memories a turn reads and writes (SPEC §12); without memory it scopes nothing.
    user: Name | None = None
    # Backboard's, not implemented: accepted at their defaults only.
    metadata: Unsupported = None
    memory_pro: Unsupported = None
    memory_response_citation: Unsupported = None
    memory_citation: Unsupported = None
    web_search: Unsupported = None
    image_generation: Unsupported = None
    image_model_provider: Unsupported = None
    image_model_name: Unsupported = None
    image_config: Unsupported = None
    video_generation: Unsupported = None
    video_model_provider: Unsupported = None
    video_model_name: Unsupported = None
    video_config: Unsupported = None
    send_to_llm: Unsupported = None
    json_output: Unsupported = None
    tools: Unsupported = None
    thinking: Unsupported = None
    openrouter: Unsupported = None
    system_one: Unsupported = None
    voice: Unsupported = None
    operation: Unsupported = None
    # Uploads of a multipart body (their names as the SDK sends them).
    files: Unsupported = None
    audio_file: Unsupported = None
    input_image: Unsupported = None
    input_last_frame: Unsupported = None
    input_video: Unsupported = None
    input_references: Unsupported = None


MESSAGE_UNSUPPORTED = (
    "metadata",
    "memory_pro",
    "memory_response_citation",
    "memory_citation",
    "web_search",
    "image_generation",
    "image_model_provider",
    "image_model_name",
    "image_config",
    "video_generation",
    "video_model_provider",
    "video_model_name",
    "video_config",
    "send_to_llm",
    "json_output",
    "tools",
    "thinking",
    "openrouter",
    "system_one",
    "voice",
    "operation",
    "files",
    "audio_file",
    "input_image",
    "input_last_frame",
    "input_video",
    "input_references",
)


class BackboardAssistantCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    description: str | None = None
    system_prompt: str | None = None
    llm_provider: ProviderName | None = None
    model_name: ModelName | None = None
    # Backboard's, not implemented (tools; memory and document retrieval settings).
    tools: Unsupported = None
    tok_k: Unsupported = None
    custom_fact_extraction_prompt: Unsupported = None
    custom_update_memory_prompt: Unsupported = None
    embedding_provider: Unsupported = None
    embedding_model_name: Unsupported = None
    embedding_dims: Unsupported = None


class BackboardAssistantUpdate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name | None = None
    description: str | None = None
    system_prompt: str | None = None
    llm_provider: ProviderName | None = None
    model_name: ModelName | None = None
    tools: Unsupported = None
    tok_k: Unsupported = None
    custom_fact_extraction_prompt: Unsupported = None
    custom_update_memory_prompt: Unsupported = None
    embedding_provider: Unsupported = None
    embedding_model_name: Unsupported = None
    embedding_dims: Unsupported = None


ASSISTANT_UNSUPPORTED = (
    "tools",
    "tok_k",
    "custom_fact_extraction_prompt",
    "custom_update_memory_prompt",
    "embedding_provider",
    "embedding_model_name",
    "embedding_dims",
)


class BackboardThreadCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`POST /api/assistants/{id}/threads`: the SDK sends `{}`."""

    metadata: Metadata | None = None
