"""/v1/conversations (SPEC §14): OpenAI's Conversations API over threads. A conversation is a
thread: one made here (a `conv_...` id) is a thread in `/v1/threads`, and any thread of the
organization is a conversation here; its items are the thread's messages."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from gateway.core.services import Services
from gateway.doors.openai.items import chat_messages, record_item
from gateway.doors.openai.objects import ConversationObject, DeletedConversation, ItemList, MessageItem
from gateway.doors.openai.render import conversation_object, item_list, message_page
from gateway.doors.openai.schemas import ConversationCreate, ConversationUpdate, ItemsCreate
from gateway.doors.openai.unsupported import refuse_include
from gateway.ids import new_id

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="page size, 1-100")]
Cursor = Annotated[str | None, QueryParameter(max_length=256, description="the previous page's `last_id`")]
Order = Annotated[Literal["asc", "desc"], QueryParameter(description="`desc` (default): newest first")]
Include = Annotated[str | None, QueryParameter(name="include[]", max_length=256, description="unsupported")]
_PATH = "/conversations/{conversation_id:str}"


@post("/conversations", status_code=200, summary="Create a conversation (a thread)")
async def create_conversation(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    data: JSONBody[ConversationCreate | None] = None,
) -> ConversationObject:
    body = data or ConversationCreate()
    items = chat_messages(body.items or [], "items")
    thread, _ = await services.items.create(
        request.state.org, new_id("conv"), metadata=dict(body.metadata or {}), items=items
    )
    return conversation_object(thread)


@get(_PATH, summary="Retrieve a conversation")
async def get_conversation(
    request: Request[Any, Any, Any], services: NamedDependency[Services], conversation_id: FromPath[str]
) -> ConversationObject:
    return conversation_object(await services.threads.get(request.state.org, conversation_id))


@post(_PATH, status_code=200, summary="Replace a conversation's metadata")
async def update_conversation(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    conversation_id: FromPath[str],
    data: JSONBody[ConversationUpdate],
) -> ConversationObject:
    thread = await services.items.replace_metadata(
        request.state.org, conversation_id, dict(data.metadata or {})
    )
    return conversation_object(thread)


@delete(_PATH, status_code=200, summary="Delete a conversation (the thread and its messages)")
async def delete_conversation(
    request: Request[Any, Any, Any], services: NamedDependency[Services], conversation_id: FromPath[str]
) -> DeletedConversation:
    await services.threads.delete(request.state.org, conversation_id)
    return DeletedConversation(id=conversation_id)


@get(f"{_PATH}/items", summary="List a conversation's items")
async def list_items(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    conversation_id: FromPath[str],
    limit: Limit = 20,
    after: Cursor = None,
    order: Order = "desc",
    include: Include = None,
) -> ItemList:
    refuse_include(include, "include[]")
    page = await services.threads.messages(
        request.state.org, conversation_id, limit=limit, after=after, descending=order == "desc"
    )
    return message_page(page)


@post(f"{_PATH}/items", status_code=200, summary="Add items to a conversation")
async def create_items(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    conversation_id: FromPath[str],
    data: JSONBody[ItemsCreate],
    include: Include = None,
) -> ItemList:
    refuse_include(include, "include[]")
    _, added = await services.items.add(
        request.state.org, conversation_id, chat_messages(data.items, "items")
    )
    return item_list([record_item(m) for m in added], False)


@get(f"{_PATH}/items/{{item_id:str}}", summary="Retrieve one item of a conversation")
async def get_item(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    conversation_id: FromPath[str],
    item_id: FromPath[str],
    include: Include = None,
) -> MessageItem:
    refuse_include(include, "include[]")
    return record_item(await services.items.message(request.state.org, conversation_id, item_id))


@delete(f"{_PATH}/items/{{item_id:str}}", status_code=200, summary="Delete one item of a conversation")
async def delete_item(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    conversation_id: FromPath[str],
    item_id: FromPath[str],
) -> ConversationObject:
    org: str = request.state.org
    await services.threads.delete_message(org, conversation_id, item_id)
    return conversation_object(await services.threads.get(org, conversation_id))
