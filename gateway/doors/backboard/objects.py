"""The Backboard door's answers (SPEC §13), in the shapes `backboard-sdk` 1.5.19's models parse:
`Assistant`, `Thread`, `Message`, the flat `MessageResponse` of a turn with its `BackboardContextUsage`."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from gateway.core.memory_records import RetrievedMemory


class BackboardContextUsage(msgspec.Struct, frozen=True, kw_only=True):
    """How full the model's context window was for this turn."""

    percent: float
    used_tokens: int
    context_limit: int
    summary_tokens: int
    model: str


class BackboardAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """A turn's answer: the model's message, flat (the SDK's legacy `MessageResponse`, which its
    `send_message` and `add_message` both accept)."""

    message: str
    thread_id: str
    assistant_id: str | None
    message_id: str
    role: Literal["assistant"] = "assistant"
    content: str
    status: str
    # Memory (SPEC §12): the write job of an `Auto` turn, the memories its model was given.
    memory_operation_id: str | None = None
    retrieved_memories: list[RetrievedMemory] | None = None
    model_provider: str
    model_name: str
    input_tokens: int
    output_tokens: int
    total_tokens: int
    created_at: str
    timestamp: str
    context_usage: BackboardContextUsage | None


class BackboardMessage(msgspec.Struct, frozen=True, kw_only=True):
    message_id: str
    role: Literal["user", "assistant", "system"]
    content: str
    created_at: str
    metadata_: dict[str, Any] | None


class BackboardThread(msgspec.Struct, frozen=True, kw_only=True):
    thread_id: str
    assistant_id: str | None
    created_at: str
    messages: list[BackboardMessage]
    metadata_: dict[str, Any] | None


class BackboardAssistant(msgspec.Struct, frozen=True, kw_only=True):
    assistant_id: str
    name: str
    description: str | None
    system_prompt: str | None
    # The assistant's model, as Backboard names one: provider and model.
    llm_provider: str | None
    model_name: str | None
    created_at: str
    updated_at: str
    # Backboard's, not implemented (always null here).
    tools: list[dict[str, Any]] | None = None
    tok_k: int | None = None
    embedding_provider: str | None = None
    embedding_model_name: str | None = None
    embedding_dims: int | None = None
    custom_fact_extraction_prompt: str | None = None
    custom_update_memory_prompt: str | None = None


class BackboardThreadDeleted(msgspec.Struct, frozen=True, kw_only=True):
    message: str
    thread_id: str
    deleted_at: str


class BackboardAssistantDeleted(msgspec.Struct, frozen=True, kw_only=True):
    message: str
    assistant_id: str
    deleted_at: str
    # How many of its threads were detached (they remain, without an assistant).
    threads_detached: int
