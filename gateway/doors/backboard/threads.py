"""The thread routes of the Backboard door (SPEC §13): create under an assistant, list (all, or an
assistant's), read with its messages, delete. Lists are bare arrays paged by `skip` and `limit`."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from gateway.core.records import MessageRecord
from gateway.core.services import Services
from gateway.doors.backboard.ids import assistant_path_id, is_uuid, new_uuid, thread_path_id
from gateway.doors.backboard.lists import walk
from gateway.doors.backboard.objects import BackboardThread, BackboardThreadDeleted
from gateway.doors.backboard.render import thread_object
from gateway.doors.backboard.schemas import BackboardThreadCreate
from gateway.times import iso

# Backboard's bounds (its SDK clamps to them too).
Skip = Annotated[int, QueryParameter(ge=0, le=10_000, description="items to skip, 0-10,000")]
Limit = Annotated[int, QueryParameter(ge=1, le=200, description="page size, 1-200")]
_PAGE = 100  # messages per read of a thread's history


@post("/assistants/{assistant_id:str}/threads", status_code=200, summary="Create a thread under an assistant")
async def create_thread(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    assistant_id: FromPath[str],
    data: JSONBody[BackboardThreadCreate | None] = None,
) -> BackboardThread:
    aid = assistant_path_id(assistant_id)
    body = data or BackboardThreadCreate()
    thread = await services.threads.create(
        request.state.org, new_uuid(), metadata=body.metadata, visible=True, assistant_id=aid
    )
    return thread_object(thread)


async def _threads(
    services: Services, org: str, *, skip: int, limit: int, assistant_id: str | None = None
) -> list[BackboardThread]:
    async def fetch(after: str | None) -> tuple[list[Any], str | None]:
        page = await services.threads.page(
            org, visible=True, state=None, limit=_PAGE, after=after, assistant_id=assistant_id
        )
        return page.items, page.items[-1].id if page.has_more and page.items else None

    found = await walk(fetch, lambda t: is_uuid(t.id), skip=skip, limit=limit)
    return [thread_object(t) for t in found]


@get("/threads", summary="List threads, newest activity first")
async def list_threads(
    request: Request[Any, Any, Any], services: NamedDependency[Services], skip: Skip = 0, limit: Limit = 100
) -> list[BackboardThread]:
    return await _threads(services, request.state.org, skip=skip, limit=limit)


@get("/assistants/{assistant_id:str}/threads", summary="List an assistant's threads, newest activity first")
async def list_assistant_threads(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    assistant_id: FromPath[str],
    skip: Skip = 0,
    limit: Limit = 100,
) -> list[BackboardThread]:
    org: str = request.state.org
    # An unknown assistant (or another organization's) is 404 here, not an empty list.
    assistant = await services.assistants.get(org, assistant_path_id(assistant_id))
    return await _threads(services, org, skip=skip, limit=limit, assistant_id=assistant.id)


@get("/threads/{thread_id:str}", summary="Retrieve a thread with its messages")
async def get_thread(
    request: Request[Any, Any, Any], services: NamedDependency[Services], thread_id: FromPath[str]
) -> BackboardThread:
    org: str = request.state.org
    thread = await services.threads.get(org, thread_path_id(thread_id))
    messages: list[MessageRecord] = []
    after = None
    # Every message, in order: bounded by the thread's message limit (GATEWAY_MAX_MESSAGES_PER_THREAD).
    while True:
        page = await services.threads.messages(org, thread.id, limit=_PAGE, after=after, descending=False)
        messages += page.items
        if not page.has_more or not page.items:
            break
        after = page.items[-1].id
    return thread_object(thread, messages)


@delete("/threads/{thread_id:str}", status_code=200, summary="Delete a thread and its messages")
async def delete_thread(
    request: Request[Any, Any, Any], services: NamedDependency[Services], thread_id: FromPath[str]
) -> BackboardThreadDeleted:
    tid = thread_path_id(thread_id)
    await services.threads.delete(request.state.org, tid)
    return BackboardThreadDeleted(
        message="Thread deleted successfully", thread_id=tid, deleted_at=iso(services.clock())
    )
