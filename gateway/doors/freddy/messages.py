"""/v1/threads/{id}/messages (SPEC §4.2, §10): a thread's messages in order; one message edited or
deleted (open threads only)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, delete, get, patch
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from gateway.core.records import MessagePatch
from gateway.core.services import Services
from gateway.doors.freddy.objects import DeletedMessage, MessageList, MessageObject
from gateway.doors.freddy.render import message_list, message_object
from gateway.doors.freddy.schemas import MessageUpdateBody
from gateway.doors.freddy.unsupported import refuse_unsupported_values

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="page size, 1-100")]
Cursor = Annotated[str | None, QueryParameter(max_length=256, description="the previous page's `last_id`")]


class MessageController(Controller):
    path = "/threads/{thread_id:str}/messages"
    tags = ["threads"]

    @get("/", summary="List a thread's messages in order")
    async def list_messages(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        thread_id: FromPath[str],
        limit: Limit = 20,
        after: Cursor = None,
        before: Cursor = None,
        order: FromQuery[Literal["asc", "desc"]] = "asc",
        output_mode: Annotated[str | None, QueryParameter(max_length=32)] = None,
    ) -> MessageList:
        refuse_unsupported_values({"output_mode": output_mode})
        page = await services.threads.messages(
            request.state.org, thread_id, limit=limit, after=after, before=before, descending=order == "desc"
        )
        return message_list(page, limit)

    @patch("/{message_id:str}", summary="Change one message's content or metadata (open threads)")
    async def update_message(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        thread_id: FromPath[str],
        message_id: FromPath[str],
        data: JSONBody[MessageUpdateBody],
    ) -> MessageObject:
        change = MessagePatch(content=data.content, metadata=data.metadata)
        return message_object(
            await services.threads.edit_message(request.state.org, thread_id, message_id, change)
        )

    @delete("/{message_id:str}", status_code=200, summary="Delete one message (open threads)")
    async def delete_message(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        thread_id: FromPath[str],
        message_id: FromPath[str],
    ) -> DeletedMessage:
        await services.threads.delete_message(request.state.org, thread_id, message_id)
        return DeletedMessage(id=message_id)
