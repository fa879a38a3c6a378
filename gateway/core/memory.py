"""Memory (SPEC §12), door-neutral: a turn's mode and scope, what its model is given, the job that
writes its facts afterwards, and the memory endpoints of every door.

- Mode: the request's `memory` (any case), else its assistant's; no assistant: no memory.
- Scope: the assistant, and within it the turn's user (the request's `user`, else its thread's,
  else for a chain its previous response's): reading and writing see that user's memories and
  the assistant-wide ones only.
- Reading: the new user inputs are embedded and the top `top_k` memories at or above `min_score`
  are given to the model as one system message after the instructions.
- Writing (`auto`): a job enqueued in the turn's own store write, a thread's turn or a chain's
  response (the outbox, see `gateway.store.jobs`); its id is the answer's `memory_operation_id`;
  `gateway.core.memory_writer` runs it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import msgspec
import structlog

from gateway import errors
from gateway.core.assistants import memory_mode
from gateway.core.budget import Budget
from gateway.core.embedder import Embedder
from gateway.core.memory_index import ScopeIndexes
from gateway.core.memory_records import (
    MemoryChange,
    MemoryRecord,
    MemoryWrite,
    MemoryWritten,
    Recall,
    RetrievedMemory,
)
from gateway.core.records import AssistantRecord, Memory, Page
from gateway.core.requests import TurnRequest
from gateway.core.rules import check_user
from gateway.core.vectors import to_bytes
from gateway.store.jobs import Job, NewJob
from gateway.store.protocols import Backend, MemoryStore
from providers.base import ChatMessage

_log = structlog.get_logger("gateway.memory")
WRITE_KIND = "memory.write"
MEMORY_MAX_CHARS = 8000
LIST_MAX = 100
SEARCH_MAX = 50
_HEADER = (
    "What you remember about the user from earlier conversations (use it when it is relevant; "
    "do not mention that it was remembered unless asked):"
)


class MemorySettings(msgspec.Struct, frozen=True, kw_only=True):
    top_k: int = 5
    min_score: float = 0.25
    duplicate_score: float = 0.9
    # The model that extracts facts; None: each user message is kept as it was said.
    model: str | None = None
    write_attempts: int = 5


class Operation(msgspec.Struct, frozen=True, kw_only=True):
    """A memory operation's status (SPEC §12), from its job."""

    id: str
    status: str
    memory_ids: list[str]
    error: str | None
    created_us: int
    updated_us: int


def check_text(text: str, name: str = "content") -> str:
    if not text.strip() or len(text) > MEMORY_MAX_CHARS:
        raise errors.ValidationFailed(f"`{name}` must be 1 to {MEMORY_MAX_CHARS} characters, not blank.")
    return text


def turn_mode(requested: str | None, assistant: AssistantRecord | None) -> Memory:
    """The turn's memory mode: the request's, else its assistant's; none without an assistant."""
    if assistant is None:
        return "off"
    mode = memory_mode(requested)
    return mode if mode is not None else assistant.memory


def check_request(memory: str | None, user: str | None) -> None:
    """A turn's memory fields, checked before anything is held: 422 for a mode that is not one."""
    memory_mode(memory)
    check_user(user)


def recall_messages(recall: Recall | None) -> tuple[ChatMessage, ...]:
    """The system message that follows the instructions, when memories were found."""
    return () if recall is None or recall.message is None else (recall.message,)


def memory_message(found: tuple[RetrievedMemory, ...]) -> ChatMessage:
    return ChatMessage("system", ("\n".join([_HEADER, *(f"- {m.memory}" for m in found)]),))


class MemoryService:
    def __init__(
        self, store: Backend, embedder: Embedder, settings: MemorySettings, *, clock: Callable[[], int]
    ) -> None:
        self._store = store
        self._memories = store.memories
        self._embedder = embedder
        self._settings = settings
        self._clock = clock
        self.indexes = ScopeIndexes(store.memories)

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    @property
    def memories(self) -> MemoryStore:
        return self._memories

    @property
    def settings(self) -> MemorySettings:
        return self._settings

    # -- turns ------------------------------------------------------------------------------------

    async def recall_for_turn(
        self,
        org: str,
        assistant: AssistantRecord | None,
        req: TurnRequest,
        response_id: str,
        at_us: int,
        budget: Budget | None = None,
        *,
        user: str | None,
    ) -> Recall | None:
        """`recall` for a turn of `user` (the request's, or its thread's or previous response's): a
        failure of memory (the embedder, the store) leaves the turn without it, never failed
        (logged). The memories' message takes its tokens from `budget` (what the history left):
        the least similar memories are left out until it fits."""
        try:
            return await self.recall(
                org,
                assistant,
                requested=req.memory,
                user=user,
                inputs=req.inputs,
                response_id=response_id,
                at_us=at_us,
                budget=budget,
            )
        except Exception:  # noqa: BLE001 - see above
            _log.warning("memory_recall_failed", exc_info=True)
            return None

    async def recall(
        self,
        org: str,
        assistant: AssistantRecord | None,
        *,
        requested: str | None,
        user: str | None,
        inputs: tuple[ChatMessage, ...],
        response_id: str,
        at_us: int,
        budget: Budget | None = None,
    ) -> Recall | None:
        """What memory adds to a turn (None: memory is off for it)."""
        mode = turn_mode(requested, assistant)
        check_user(user)
        if mode == "off" or assistant is None:
            return None
        texts = [t for m in inputs if m.role == "user" for t in m.texts if t.strip()]
        if not texts:
            return Recall(mode=mode, user=user)
        [query] = await self._embedder.vectors(["\n".join(texts)])
        hits = await self.indexes.search(
            org, assistant.id, query, k=self._settings.top_k, floor=self._settings.min_score, user=user
        )
        found: list[RetrievedMemory] = []
        for hit in hits:
            record = await self._memories.get_memory(org, assistant.id, hit.id)
            if record is not None:
                found.append(RetrievedMemory(id=hit.id, memory=record.text, score=round(hit.score, 4)))
        job = None
        if mode == "auto":
            payload = MemoryWrite(assistant_id=assistant.id, user=user, texts=texts, response_id=response_id)
            job = NewJob(
                org=org,
                id=str(uuid.uuid4()),
                kind=WRITE_KIND,
                key=response_id,
                payload=msgspec.json.encode(payload),
                max_attempts=self._settings.write_attempts,
                at_us=at_us,
            )
        while found and budget is not None and not budget.take(memory_message(tuple(found))):
            found.pop()
        memories = tuple(found)
        return Recall(
            mode=mode,
            user=user,
            memories=memories,
            message=memory_message(memories) if memories else None,
            job=job,
        )

    async def operation(self, org: str, operation_id: str) -> Operation:
        job = await self._store.jobs.get(org, operation_id)
        if job is None or job.kind != WRITE_KIND:
            raise errors.MemoryOperationNotFound(operation_id[:128])
        return _operation(job)

    # -- the endpoints ----------------------------------------------------------------------------
    # Each names an assistant of the organization: another organization's (or none) is 404.

    async def _assistant(self, org: str, assistant_id: str) -> None:
        if await self._store.assistants.get_assistant(org, assistant_id) is None:
            raise errors.AssistantNotFound(assistant_id[:128])

    async def list_memories(
        self, org: str, assistant_id: str, *, user: str | None, limit: int, offset: int
    ) -> Page[MemoryRecord]:
        await self._assistant(org, assistant_id)
        limit = max(1, min(limit, LIST_MAX))
        return await self._memories.list_memories(
            org, assistant_id, user=check_user(user), limit=limit, offset=max(offset, 0)
        )

    async def create(
        self, org: str, assistant_id: str, text: str, *, user: str | None, metadata: dict[str, Any] | None
    ) -> MemoryRecord:
        await self._assistant(org, assistant_id)
        [vector] = await self._embedder.vectors([check_text(text)])
        at = self._clock()
        record = MemoryRecord(
            org=org,
            assistant_id=assistant_id,
            id=str(uuid.uuid4()),
            user=check_user(user),
            text=text,
            embedding=to_bytes(vector),
            metadata=dict(metadata or {}),
            created_us=at,
            updated_us=at,
        )
        return await self._memories.add_memory(record)

    async def get(self, org: str, assistant_id: str, memory_id: str) -> MemoryRecord:
        await self._assistant(org, assistant_id)
        found = await self._memories.get_memory(org, assistant_id, memory_id)
        if found is None:
            raise errors.MemoryNotFound(memory_id[:128])
        return found

    async def update(
        self, org: str, assistant_id: str, memory_id: str, text: str, *, metadata: dict[str, Any] | None
    ) -> MemoryRecord:
        await self._assistant(org, assistant_id)
        await self.get(org, assistant_id, memory_id)
        [vector] = await self._embedder.vectors([check_text(text)])
        change = MemoryChange(text=text, embedding=to_bytes(vector), metadata=metadata, at_us=self._clock())
        updated = await self._memories.update_memory(org, assistant_id, memory_id, change)
        if updated is None:
            raise errors.MemoryNotFound(memory_id[:128])
        return updated

    async def delete(self, org: str, assistant_id: str, memory_id: str) -> None:
        await self._assistant(org, assistant_id)
        if not await self._memories.delete_memory(org, assistant_id, memory_id):
            raise errors.MemoryNotFound(memory_id[:128])

    async def search(
        self, org: str, assistant_id: str, query: str, *, limit: int, user: str | None
    ) -> list[tuple[MemoryRecord, float]]:
        """The memories most similar to `query`, best first: `user`'s and the assistant-wide ones,
        or without `user` every memory of the assistant (the endpoints see the whole scope)."""
        await self._assistant(org, assistant_id)
        [vector] = await self._embedder.vectors([check_text(query, "query")])
        limit = max(1, min(limit, SEARCH_MAX))
        hits = await self.indexes.search(
            org, assistant_id, vector, k=limit, floor=-1.0, user=check_user(user), every_user=user is None
        )
        found = []
        for hit in hits:
            record = await self._memories.get_memory(org, assistant_id, hit.id)
            if record is not None:
                found.append((record, hit.score))
        return found


def _operation(job: Job) -> Operation:
    ids: list[str] = []
    if job.status == "COMPLETED" and job.result:
        ids = msgspec.json.decode(job.result, type=MemoryWritten).memory_ids
    return Operation(
        id=job.id,
        status=job.status,
        memory_ids=ids,
        error=None if job.status == "COMPLETED" else job.error,
        created_us=job.created_us,
        updated_us=job.updated_us,
    )
