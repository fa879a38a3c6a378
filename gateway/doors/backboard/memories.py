"""The memory routes of the Backboard door (SPEC §13, §12), in the shapes `backboard-sdk` 1.5.19
parses: `/api/assistants/{id}/memories` list (`page`, `page_size`; none: all of them), add, get,
update, delete, search and stats, and `/api/assistants/memories/operations/{id}`. Memory and
operation ids are UUIDs; any other id is absent here (404)."""

from __future__ import annotations

import math
from typing import Annotated, Any

import msgspec
from litestar import Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from msgspec import Meta

from gateway import errors
from gateway.core.memory import LIST_MAX
from gateway.core.memory_records import MemoryRecord
from gateway.core.services import Services
from gateway.doors.backboard.ids import assistant_path_id, is_uuid
from gateway.doors.backboard.schemas import Metadata, Name
from gateway.times import iso

# A list without `page` returns every memory, up to this many.
ALL_MAX = 1000
Text = Annotated[str, Meta(min_length=1, max_length=8000)]


class MemoryBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    content: Text
    metadata: Metadata | None = None
    user: Name | None = None


class SearchBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    query: Text
    limit: Annotated[int, Meta(ge=1, le=50)] = 5
    user: Name | None = None


class BackboardMemory(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    content: str
    metadata: dict[str, Any] | None
    score: float | None = None
    created_at: str
    updated_at: str
    user: str | None = None


class MemoryList(msgspec.Struct, frozen=True, kw_only=True):
    memories: list[BackboardMemory]
    total_count: int
    page: int | None = None
    page_size: int | None = None
    total_pages: int | None = None


class MemoryAdded(BackboardMemory, frozen=True, kw_only=True):
    success: bool = True
    memory_id: str


class MemoryDeleted(msgspec.Struct, frozen=True, kw_only=True):
    success: bool = True
    message: str = "Memory deleted successfully"
    memory_id: str


class MemoryStats(msgspec.Struct, frozen=True, kw_only=True):
    total_memories: int
    last_updated: str | None
    limits: dict[str, int]


class OperationStatus(msgspec.Struct, frozen=True, kw_only=True):
    operation_id: str
    status: str
    memory_ids: list[str]
    result_count: int
    error: str | None
    created_at: str
    updated_at: str


def _memory(m: MemoryRecord, score: float | None = None) -> BackboardMemory:
    return BackboardMemory(
        id=m.id,
        content=m.text,
        metadata=m.metadata or None,
        score=None if score is None else round(score, 4),
        created_at=iso(m.created_us),
        updated_at=iso(m.updated_us),
        user=m.user,
    )


def _memory_id(value: str) -> str:
    if not is_uuid(value):
        raise errors.MemoryNotFound(value[:128])
    return value


Page_ = Annotated[int | None, QueryParameter(ge=1, le=100_000, description="page number, from 1")]
PageSize = Annotated[int, QueryParameter(ge=1, le=LIST_MAX, description="page size, 1-100")]
User = Annotated[str | None, QueryParameter(min_length=1, max_length=256, description="one end user's")]


@get("/assistants/{assistant_id:str}/memories", summary="List an assistant's memories, newest first")
async def list_memories(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    assistant_id: FromPath[str],
    page: Page_ = None,
    page_size: PageSize = 25,
    user: User = None,
) -> MemoryList:
    org, aid, memory = request.state.org, assistant_path_id(assistant_id), services.memory
    if page is not None:
        got = await memory.list_memories(org, aid, user=user, limit=page_size, offset=(page - 1) * page_size)
        total = got.total or 0
        return MemoryList(
            memories=[_memory(m) for m in got.items],
            total_count=total,
            page=page,
            page_size=page_size,
            total_pages=math.ceil(total / page_size),
        )
    items: list[MemoryRecord] = []
    total = 0
    while len(items) < ALL_MAX:
        got = await memory.list_memories(org, aid, user=user, limit=LIST_MAX, offset=len(items))
        items += got.items
        total = got.total or 0
        if not got.has_more or not got.items:
            break
    return MemoryList(memories=[_memory(m) for m in items[:ALL_MAX]], total_count=total)


@post("/assistants/{assistant_id:str}/memories", status_code=200, summary="Add a memory")
async def add_memory(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    assistant_id: FromPath[str],
    data: JSONBody[MemoryBody],
) -> MemoryAdded:
    m = await services.memory.create(
        request.state.org,
        assistant_path_id(assistant_id),
        data.content,
        user=data.user,
        metadata=data.metadata,
    )
    return MemoryAdded(**msgspec.structs.asdict(_memory(m)), memory_id=m.id)


@get("/assistants/{assistant_id:str}/memories/stats", summary="Memory statistics of an assistant")
async def memory_stats(
    request: Request[Any, Any, Any], services: NamedDependency[Services], assistant_id: FromPath[str]
) -> MemoryStats:
    got = await services.memory.list_memories(
        request.state.org, assistant_path_id(assistant_id), user=None, limit=1, offset=0
    )
    last = iso(got.items[0].updated_us) if got.items else None
    return MemoryStats(total_memories=got.total or 0, last_updated=last, limits={"max_memory_chars": 8000})


@post("/assistants/{assistant_id:str}/memories/search", status_code=200, summary="Search memories")
async def search_memories(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    assistant_id: FromPath[str],
    data: JSONBody[SearchBody],
) -> MemoryList:
    found = await services.memory.search(
        request.state.org, assistant_path_id(assistant_id), data.query, limit=data.limit, user=data.user
    )
    return MemoryList(memories=[_memory(m, s) for m, s in found], total_count=len(found))


@get("/assistants/{assistant_id:str}/memories/{memory_id:str}", summary="Retrieve a memory")
async def get_memory(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    assistant_id: FromPath[str],
    memory_id: FromPath[str],
) -> BackboardMemory:
    aid, mid = assistant_path_id(assistant_id), _memory_id(memory_id)
    return _memory(await services.memory.get(request.state.org, aid, mid))


@put("/assistants/{assistant_id:str}/memories/{memory_id:str}", summary="Update a memory")
async def update_memory(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    assistant_id: FromPath[str],
    memory_id: FromPath[str],
    data: JSONBody[MemoryBody],
) -> BackboardMemory:
    aid, mid = assistant_path_id(assistant_id), _memory_id(memory_id)
    m = await services.memory.update(request.state.org, aid, mid, data.content, metadata=data.metadata)
    return _memory(m)


@delete("/assistants/{assistant_id:str}/memories/{memory_id:str}", status_code=200, summary="Delete a memory")
async def delete_memory(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    assistant_id: FromPath[str],
    memory_id: FromPath[str],
) -> MemoryDeleted:
    aid, mid = assistant_path_id(assistant_id), _memory_id(memory_id)
    await services.memory.delete(request.state.org, aid, mid)
    return MemoryDeleted(memory_id=mid)


@get("/assistants/memories/operations/{operation_id:str}", summary="The status of a memory operation")
async def memory_operation(
    request: Request[Any, Any, Any], services: NamedDependency[Services], operation_id: FromPath[str]
) -> OperationStatus:
    if not is_uuid(operation_id):
        raise errors.MemoryOperationNotFound(operation_id[:128])
    op = await services.memory.operation(request.state.org, operation_id)
    return OperationStatus(
        operation_id=op.id,
        status=op.status,
        memory_ids=op.memory_ids,
        result_count=len(op.memory_ids),
        error=op.error,
        created_at=iso(op.created_us),
        updated_at=iso(op.updated_us),
    )


ROUTES = [
    list_memories,
    add_memory,
    memory_stats,
    search_memories,
    get_memory,
    update_memory,
    delete_memory,
    memory_operation,
]
