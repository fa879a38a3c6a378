"""The memory-write job (SPEC §12): the facts of one turn's user inputs, written to its scope.

With `GATEWAY_MEMORY_MODEL` the model reads the user's words, with the memories of the scope most
like them, and answers the durable facts as JSON; a fact that corrects a memory names it
(`replaces`) and takes its place. Without one, each user message is kept as it was said. A fact
whose embedding is within `duplicate_score` (cosine) of a memory of the scope is not stored again.

Idempotent (a job runs at least once): the memories of one job have ids derived from the job's id
and its fact's position, so a run after a crash finds what the first one wrote and goes on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import msgspec
import structlog

from gateway.core.calls import Caller
from gateway.core.jobs import payload_of
from gateway.core.memory import MemoryService
from gateway.core.memory_records import MemoryChange, MemoryRecord, MemoryWrite, MemoryWritten
from gateway.core.vectors import Matrix, to_bytes
from gateway.store.jobs import Job
from providers.base import ChatMessage, ModelRequest

_log = structlog.get_logger("gateway.memory")
_IDS = uuid.UUID("6f1f3f8e-2b3c-4d5e-9a7b-1c2d3e4f5a6b")
MAX_FACTS = 20
_PROMPT = """You maintain the long-term memory of an assistant about one user.
From the user's messages below, extract the durable facts worth remembering in later conversations
(preferences, personal details, plans, constraints), each as one short sentence in the third person
or as the user said it. Ignore questions, greetings and small talk.
If a fact corrects or updates one of the known memories, give that memory's id in "replaces".
Answer with JSON only: {"facts": [{"text": "...", "replaces": null}]} ({"facts": []} if none)."""


class Fact(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    replaces: str | None = None


class Facts(msgspec.Struct, frozen=True, kw_only=True):
    facts: list[Fact]


def _json_object(text: str) -> bytes:
    """The JSON object in a model's answer (models wrap it in prose or code fences)."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("the memory model's answer holds no JSON object")
    return text[start : end + 1].encode()


class MemoryWriter:
    def __init__(self, memory: MemoryService, caller: Caller, *, clock: Callable[[], int]) -> None:
        self._memory = memory
        self._caller = caller
        self._clock = clock

    async def __call__(self, job: Job) -> bytes:
        write = payload_of(job, MemoryWrite)
        facts = await self._facts(job.org, write)
        ids: list[str] = []
        if facts:
            vectors = await self._memory.embedder.vectors([f.text for f in facts])
            for n, (fact, vector) in enumerate(zip(facts, vectors, strict=True)):
                kept = await self._keep(job, write, n, fact, vector)
                if kept is not None:
                    ids.append(kept)
        return msgspec.json.encode(MemoryWritten(memory_ids=ids))

    async def _facts(self, org: str, write: MemoryWrite) -> list[Fact]:
        model = self._memory.settings.model
        if model is None:
            return [Fact(text=t.strip()) for t in write.texts if t.strip()][:MAX_FACTS]
        said = "\n".join(write.texts)
        [query] = await self._memory.embedder.vectors([said])
        known = await self._memory.indexes.search(
            org, write.assistant_id, query, k=10, floor=self._memory.settings.min_score, user=write.user
        )
        lines = []
        for hit in known:
            record = await self._memory.memories.get_memory(org, write.assistant_id, hit.id)
            if record is not None:
                lines.append(f"[{record.id}] {record.text}")
        routes = self._caller.routes(model)
        prompt = (
            f"{_PROMPT}\n\nKnown memories:\n{chr(10).join(lines) or '(none)'}\n\nThe user's messages:\n{said}"
        )
        request = ModelRequest(model=routes[0].model, messages=(ChatMessage("user", (prompt,)),))
        completion = await self._caller.complete(routes, request)
        # A model that answers something else is retried (the job's backoff), then FAILED.
        facts = msgspec.json.decode(_json_object(completion.text), type=Facts).facts
        return [f for f in facts if f.text.strip()][:MAX_FACTS]

    async def _keep(self, job: Job, write: MemoryWrite, n: int, fact: Fact, vector: Matrix) -> str | None:
        """Write one fact; its memory's id, or None for a near-duplicate."""
        memories, org, aid = self._memory.memories, job.org, write.assistant_id
        memory_id = str(uuid.uuid5(_IDS, f"{job.id}:{n}"))
        if await memories.get_memory(org, aid, memory_id) is not None:
            return memory_id  # written by an earlier run of this job
        at = self._clock_us()
        if fact.replaces:
            old = await memories.get_memory(org, aid, fact.replaces)
            # Only a memory this turn's user may see can be replaced by it.
            if old is not None and old.user in (None, write.user):
                change = MemoryChange(text=fact.text, embedding=to_bytes(vector), at_us=at)
                if await memories.update_memory(org, aid, old.id, change) is not None:
                    return old.id
        dup = await self._memory.indexes.search(
            org, aid, vector, k=1, floor=self._memory.settings.duplicate_score, user=write.user
        )
        if dup:
            return None
        record = MemoryRecord(
            org=org,
            assistant_id=aid,
            id=memory_id,
            user=write.user,
            text=fact.text,
            embedding=to_bytes(vector),
            metadata={"response_id": write.response_id},
            created_us=at,
            updated_us=at,
        )
        await memories.add_memory(record)
        return memory_id

    def _clock_us(self) -> int:
        return self._clock()
