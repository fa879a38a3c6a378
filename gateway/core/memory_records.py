"""The records of memory (SPEC §12) that the core and the stores share.

A memory belongs to one assistant of one organization, and optionally to one end user under it
(`user`; None: assistant-wide). Its `embedding` is the unit vector of its text as little-endian
float32 bytes (`gateway.core.vectors.to_bytes`), made by the embedding model the gateway runs with.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.store.jobs import NewJob
from providers.base import ChatMessage


class MemoryRecord(msgspec.Struct, frozen=True, kw_only=True):
    org: str
    assistant_id: str
    id: str
    user: str | None
    text: str
    embedding: bytes
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    created_us: int
    updated_us: int


class MemoryChange(msgspec.Struct, frozen=True, kw_only=True):
    """A memory's new text (with its embedding) and, when not None, its new metadata."""

    text: str
    embedding: bytes
    metadata: dict[str, Any] | None = None
    at_us: int


class ScopeVectors(msgspec.Struct, frozen=True, kw_only=True):
    """An assistant's memories as a search needs them: ids, owners, vectors, at `version` (the
    scope's count of writes, so that a process can tell whether its index is still current)."""

    version: int
    ids: list[str]
    users: list[str | None]
    embeddings: list[bytes]


class RetrievedMemory(msgspec.Struct, frozen=True, kw_only=True):
    """A memory given to a turn's model, as answers list it (`retrieved_memories`)."""

    id: str
    memory: str
    score: float


class MemoryWrite(msgspec.Struct, frozen=True, kw_only=True):
    """The payload of a memory-write job: the new user inputs of one turn, in its scope."""

    assistant_id: str
    user: str | None
    texts: list[str]
    response_id: str


class MemoryWritten(msgspec.Struct, frozen=True, kw_only=True):
    """The result of a memory-write job: the memories it added or replaced."""

    memory_ids: list[str]


class Recall(msgspec.Struct, frozen=True, kw_only=True):
    """What memory adds to one turn: the memories found (`message`: them as the system message given
    after the instructions) and, in `auto` mode, the job that writes the turn's facts afterwards."""

    mode: str
    user: str | None
    memories: tuple[RetrievedMemory, ...] = ()
    message: ChatMessage | None = None
    job: NewJob | None = None
