"""/v1/assistants/{id}/memories and /v1/memory-operations/{id} (SPEC §12): an assistant's memories
listed (paged, newest first), created, retrieved, updated, deleted and searched with scores, and the
status of a turn's memory write."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from msgspec import Meta

from gateway.core.memory import LIST_MAX, SEARCH_MAX
from gateway.core.memory_records import MemoryRecord
from gateway.core.services import Services
from gateway.times import iso

Text = Annotated[str, Meta(min_length=1, max_length=8000)]
User = Annotated[str, Meta(min_length=1, max_length=256)]
Limit = Annotated[int, QueryParameter(ge=1, le=LIST_MAX, description="page size, 1-100")]
Offset = Annotated[int, QueryParameter(ge=0, le=1_000_000, description="how many to skip")]
UserQuery = Annotated[str | None, QueryParameter(min_length=1, max_length=256, description="one end user's")]


class MemoryCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    memory: Text
    user: User | None = None
    metadata: dict[str, Any] | None = None


class MemoryUpdate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    memory: Text
    metadata: dict[str, Any] | None = None


class MemorySearch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    query: Text
    limit: Annotated[int, Meta(ge=1, le=SEARCH_MAX)] = 5
    user: User | None = None


class MemoryObject(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["memory"] = "memory"
    assistant_id: str
    user: str | None
    memory: str
    metadata: dict[str, Any]
    created_at: str
    updated_at: str
    score: float | None = None


class MemoryList(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["list"] = "list"
    data: list[MemoryObject]
    total: int
    limit: int
    offset: int
    has_more: bool


class SearchResults(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["list"] = "list"
    data: list[MemoryObject]


class DeletedMemory(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["memory.deleted"] = "memory.deleted"
    deleted: bool = True


class OperationObject(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["memory_operation"] = "memory_operation"
    status: str
    memory_ids: list[str]
    error: str | None
    created_at: str
    updated_at: str


def memory_object(m: MemoryRecord, score: float | None = None) -> MemoryObject:
    return MemoryObject(
        id=m.id,
        assistant_id=m.assistant_id,
        user=m.user,
        memory=m.text,
        metadata=m.metadata,
        created_at=iso(m.created_us),
        updated_at=iso(m.updated_us),
        score=None if score is None else round(score, 4),
    )


class MemoryController(Controller):
    path = "/assistants/{assistant_id:str}/memories"
    tags = ["memory"]

    @get("/", summary="List an assistant's memories, newest first")
    async def list_memories(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        assistant_id: FromPath[str],
        limit: Limit = 20,
        offset: Offset = 0,
        user: UserQuery = None,
    ) -> MemoryList:
        page = await services.memory.list_memories(
            request.state.org, assistant_id, user=user, limit=limit, offset=offset
        )
        return MemoryList(
            data=[memory_object(m) for m in page.items],
            total=page.total or 0,
            limit=limit,
            offset=offset,
            has_more=page.has_more,
        )

    @post("/", status_code=201, summary="Create a memory")
    async def create_memory(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        assistant_id: FromPath[str],
        data: JSONBody[MemoryCreate],
    ) -> MemoryObject:
        made = await services.memory.create(
            request.state.org, assistant_id, data.memory, user=data.user, metadata=data.metadata
        )
        return memory_object(made)

    @post("/search", status_code=200, summary="Search an assistant's memories by meaning")
    async def search_memories(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        assistant_id: FromPath[str],
        data: JSONBody[MemorySearch],
    ) -> SearchResults:
        found = await services.memory.search(
            request.state.org, assistant_id, data.query, limit=data.limit, user=data.user
        )
        return SearchResults(data=[memory_object(m, s) for m, s in found])

    @get("/{memory_id:str}", summary="Retrieve a memory")
    async def get_memory(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        assistant_id: FromPath[str],
        memory_id: FromPath[str],
    ) -> MemoryObject:
        return memory_object(await services.memory.get(request.state.org, assistant_id, memory_id))

    @put("/{memory_id:str}", summary="Update a memory")
    async def update_memory(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        assistant_id: FromPath[str],
        memory_id: FromPath[str],
        data: JSONBody[MemoryUpdate],
    ) -> MemoryObject:
        changed = await services.memory.update(
            request.state.org, assistant_id, memory_id, data.memory, metadata=data.metadata
        )
        return memory_object(changed)

    @delete("/{memory_id:str}", status_code=200, summary="Delete a memory")
    async def delete_memory(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        assistant_id: FromPath[str],
        memory_id: FromPath[str],
    ) -> DeletedMemory:
        await services.memory.delete(request.state.org, assistant_id, memory_id)
        return DeletedMemory(id=memory_id)


@get("/memory-operations/{operation_id:str}", summary="The status of a memory write", tags=["memory"])
async def memory_operation(
    request: Request[Any, Any, Any], services: NamedDependency[Services], operation_id: FromPath[str]
) -> OperationObject:
    op = await services.memory.operation(request.state.org, operation_id)
    return OperationObject(
        id=op.id,
        status=op.status,
        memory_ids=op.memory_ids,
        error=op.error,
        created_at=iso(op.created_us),
        updated_at=iso(op.updated_us),
    )
