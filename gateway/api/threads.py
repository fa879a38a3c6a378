"""/v1/threads (SPEC §4): CRUD of threads and the listing of their messages."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import structlog
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from gateway.api.auth import check_organization
from gateway.api.body import strict_json
from gateway.api.services import Services
from gateway.errors import ThreadNotFound, ValidationFailed
from gateway.ids import new_id
from gateway.records import State, ThreadPatch
from gateway.render import message_list, thread_list, thread_object
from gateway.schemas import MessageList, ThreadCreate, ThreadList, ThreadObject, ThreadUpdateBody
from gateway.store.base import CursorNotFound
from gateway.threads import apply_patch, is_valid_thread_id, new_thread

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="page size, 1-100")]
Cursor = Annotated[str | None, QueryParameter(max_length=256, description="the previous page's `last_id`")]


def _thread_id(thread_id: str) -> str:
    # An id that cannot exist is simply not found, like any other unknown id.
    if not is_valid_thread_id(thread_id):
        raise ThreadNotFound(thread_id[:128])
    structlog.contextvars.bind_contextvars(thread_id=thread_id)
    return thread_id


def _unknown_cursor(after: str) -> ValidationFailed:
    return ValidationFailed("`after` names no item of this list.", details={"after": after[:256]})


class ThreadController(Controller):
    path = "/threads"
    tags = ["threads"]

    @post(
        "/",
        status_code=201,
        summary="Create a thread",
        before_request=strict_json(ThreadCreate, optional=True),
    )
    async def create_thread(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        data: JSONBody[ThreadCreate | None] = None,
    ) -> ThreadObject:
        org: str = request.state.org
        body = data or ThreadCreate()
        check_organization(body.organization_id, org)
        thread = new_thread(
            org,
            body.id or new_id("thread"),
            metadata=body.metadata,
            visible=body.visible_in_ui,
            limits=services.limits,
            at_us=services.clock(),
        )
        return thread_object(await services.store.create_thread(thread))

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
        try:
            page = await services.store.list_threads(
                request.state.org,
                visible=visible_in_ui,
                state=thread_state,
                limit=limit,
                after=after,
                at_us=services.clock(),
            )
        except CursorNotFound:
            raise _unknown_cursor(after or "") from None
        return thread_list(page.items, page.has_more)

    @get("/{thread_id:str}", summary="Retrieve a thread (hidden ones too)")
    async def get_thread(
        self, request: Request[Any, Any, Any], services: NamedDependency[Services], thread_id: FromPath[str]
    ) -> ThreadObject:
        tid = _thread_id(thread_id)
        thread = await services.store.get_thread(request.state.org, tid, services.clock())
        if thread is None:
            raise ThreadNotFound(tid)
        return thread_object(thread)

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
        tid = _thread_id(thread_id)
        try:
            page = await services.store.list_messages(
                request.state.org,
                tid,
                limit=limit,
                after=after,
                descending=order == "desc",
                at_us=services.clock(),
            )
        except CursorNotFound:
            raise _unknown_cursor(after or "") from None
        if page is None:
            raise ThreadNotFound(tid)
        return message_list(page.items, page.has_more)

    @patch(
        "/{thread_id:str}",
        summary="Change metadata, state or visibility",
        before_request=strict_json(ThreadUpdateBody),
    )
    async def update_thread(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        thread_id: FromPath[str],
        data: JSONBody[ThreadUpdateBody],
    ) -> ThreadObject:
        tid = _thread_id(thread_id)
        change = ThreadPatch(metadata=data.metadata, state=data.state, visible=data.visible_in_ui)
        at = services.clock()
        thread = await services.store.update_thread(
            request.state.org, tid, lambda t: apply_patch(t, change, services.limits, at), at
        )
        return thread_object(thread)

    @delete("/{thread_id:str}", status_code=204, summary="Delete a thread and its messages")
    async def delete_thread(
        self, request: Request[Any, Any, Any], services: NamedDependency[Services], thread_id: FromPath[str]
    ) -> None:
        tid = _thread_id(thread_id)
        org: str = request.state.org
        removed = await services.store.delete_thread(org, tid, services.clock())
        if removed is None:
            raise ThreadNotFound(tid)
        await services.cache.forget(org, removed)
