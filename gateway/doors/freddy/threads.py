"""/v1/threads (SPEC §4, §10): CRUD of threads, pins, generated names, delete-all."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from gateway.core.records import State, ThreadPatch
from gateway.core.services import Services
from gateway.doors.freddy.objects import DeletedAll, PinnedThread, ThreadList, ThreadObject
from gateway.doors.freddy.render import pinned_object, thread_list, thread_object
from gateway.doors.freddy.schemas import GenerateNameBody, ThreadCreate, ThreadUpdateBody
from gateway.doors.freddy.unsupported import refuse_unsupported_values
from gateway.http.auth import check_organization

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="page size, 1-100")]
Cursor = Annotated[str | None, QueryParameter(max_length=256, description="an item of this list")]
Order = Annotated[Literal["asc", "desc"], QueryParameter(description="by activity; `desc`: newest first")]


class ThreadController(Controller):
    path = "/threads"
    tags = ["threads"]

    @post("/", status_code=201, summary="Create a thread")
    async def create_thread(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        data: JSONBody[ThreadCreate | None] = None,
    ) -> ThreadObject:
        org: str = request.state.org
        body = data or ThreadCreate()
        check_organization(body.organization_id, org)
        thread = await services.threads.create(
            org,
            body.id,
            metadata=body.metadata,
            visible=body.visible_in_ui,
            title=body.title,
            assistant_id=body.assistant_id or None,
            user=body.user,
        )
        return thread_object(thread)

    @get("/", summary="List threads, by activity")
    async def list_threads(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        limit: Limit = 20,
        after: Cursor = None,
        before: Cursor = None,
        order: Order = "desc",
        visible_in_ui: FromQuery[bool] = True,
        thread_state: Annotated[State | None, QueryParameter(name="state")] = None,
        is_pinned: FromQuery[bool | None] = None,
        assistant_id: Annotated[str | None, QueryParameter(max_length=128)] = None,
        include_total: FromQuery[bool] = False,
        workflow_id: Annotated[str | None, QueryParameter(max_length=128)] = None,
        include_deleted: FromQuery[bool] = False,
    ) -> ThreadList:
        refuse_unsupported_values({"workflow_id": workflow_id, "include_deleted": include_deleted})
        page = await services.threads.page(
            request.state.org,
            visible=visible_in_ui,
            state=thread_state,
            limit=limit,
            after=after,
            before=before,
            descending=order == "desc",
            pinned=is_pinned,
            with_total=include_total,
            assistant_id=assistant_id or None,
        )
        return thread_list(page, limit)

    @delete("/", status_code=200, summary="Delete every thread of the organization")
    async def delete_all_threads(
        self, request: Request[Any, Any, Any], services: NamedDependency[Services]
    ) -> DeletedAll:
        deleted = await services.threads.delete_all(request.state.org)
        return DeletedAll(deleted=deleted, message=f"Deleted {deleted} threads.")

    @get("/{thread_id:str}", summary="Retrieve a thread (hidden ones too)")
    async def get_thread(
        self, request: Request[Any, Any, Any], services: NamedDependency[Services], thread_id: FromPath[str]
    ) -> ThreadObject:
        return thread_object(await services.threads.get(request.state.org, thread_id))

    @patch("/{thread_id:str}", summary="Change title, metadata, state or visibility")
    async def update_thread(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        thread_id: FromPath[str],
        data: JSONBody[ThreadUpdateBody],
    ) -> ThreadObject:
        change = ThreadPatch(
            metadata=data.metadata,
            state=data.state,
            visible=data.visible_in_ui,
            title=data.title,
            assistant_id=data.assistant_id or None,
        )
        return thread_object(await services.threads.update(request.state.org, thread_id, change))

    @delete("/{thread_id:str}", status_code=204, summary="Delete a thread and its messages")
    async def delete_thread(
        self, request: Request[Any, Any, Any], services: NamedDependency[Services], thread_id: FromPath[str]
    ) -> None:
        await services.threads.delete(request.state.org, thread_id)

    @post("/{thread_id:str}/pin", status_code=200, summary="Pin a thread")
    async def pin_thread(
        self, request: Request[Any, Any, Any], services: NamedDependency[Services], thread_id: FromPath[str]
    ) -> PinnedThread:
        thread = await services.threads.update(request.state.org, thread_id, ThreadPatch(pinned=True))
        return pinned_object(thread, "Thread pinned.")

    @post("/{thread_id:str}/unpin", status_code=200, summary="Unpin a thread")
    async def unpin_thread(
        self, request: Request[Any, Any, Any], services: NamedDependency[Services], thread_id: FromPath[str]
    ) -> PinnedThread:
        thread = await services.threads.update(request.state.org, thread_id, ThreadPatch(pinned=False))
        return pinned_object(thread, "Thread unpinned.")

    @post("/{thread_id:str}/generateName", status_code=200, summary="Title a thread from its first messages")
    async def generate_name(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        thread_id: FromPath[str],
        data: JSONBody[GenerateNameBody | None] = None,
        stream: FromQuery[bool] = False,
    ) -> ThreadObject:
        refuse_unsupported_values({"stream": stream})
        body = data or GenerateNameBody()
        given = None if body.messages is None else [(str(m.role), m.content) for m in body.messages]
        named = await services.threads.generate_name(request.state.org, thread_id, body.model, given)
        return thread_object(named)
