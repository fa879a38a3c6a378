"""/v1/threads (SPEC §4): CRUD of threads and the listing of their messages."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from gateway.core.records import State, ThreadPatch
from gateway.core.services import Services
from gateway.doors.freddy.render import message_list, thread_list, thread_object
from gateway.doors.freddy.schemas import MessageList, ThreadCreate, ThreadList, ThreadObject, ThreadUpdateBody
from gateway.http.auth import check_organization

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="page size, 1-100")]
Cursor = Annotated[str | None, QueryParameter(max_length=256, description="the previous page's `last_id`")]


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
            org, body.id, metadata=body.metadata, visible=body.visible_in_ui
        )
        return thread_object(thread)

    @get("/", summary="List threads, newest activity first")
    async def list_threads(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        limit: Limit = 20,
        after: Cursor = None,
        visible_in_ui: FromQuery[bool] = True,
        thread_state: Annotated[State | None, QueryParameter(name="state")] = None,
    ) -> ThreadList:
        page = await services.threads.list(
            request.state.org, visible=visible_in_ui, state=thread_state, limit=limit, after=after
        )
        return thread_list(page)

    @get("/{thread_id:str}", summary="Retrieve a thread (hidden ones too)")
    async def get_thread(
        self, request: Request[Any, Any, Any], services: NamedDependency[Services], thread_id: FromPath[str]
    ) -> ThreadObject:
        return thread_object(await services.threads.get(request.state.org, thread_id))

    @get("/{thread_id:str}/messages", summary="List a thread's messages in order")
    async def list_messages(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        thread_id: FromPath[str],
        limit: Limit = 20,
        after: Cursor = None,
        order: FromQuery[Literal["asc", "desc"]] = "asc",
    ) -> MessageList:
        page = await services.threads.messages(
            request.state.org, thread_id, limit=limit, after=after, descending=order == "desc"
        )
        return message_list(page)

    @patch("/{thread_id:str}", summary="Change metadata, state or visibility")
    async def update_thread(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        thread_id: FromPath[str],
        data: JSONBody[ThreadUpdateBody],
    ) -> ThreadObject:
        change = ThreadPatch(metadata=data.metadata, state=data.state, visible=data.visible_in_ui)
        return thread_object(await services.threads.update(request.state.org, thread_id, change))

    @delete("/{thread_id:str}", status_code=204, summary="Delete a thread and its messages")
    async def delete_thread(
        self, request: Request[Any, Any, Any], services: NamedDependency[Services], thread_id: FromPath[str]
    ) -> None:
        await services.threads.delete(request.state.org, thread_id)
