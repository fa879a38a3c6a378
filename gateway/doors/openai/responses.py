"""/v1/responses (SPEC §14): create (JSON or OpenAI's events), retrieve, delete, input items."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Request, Response, delete, get, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from gateway import errors
from gateway.core.records import ResponseRecord
from gateway.core.services import Services
from gateway.doors.openai.items import context_index, context_item_id, message_item
from gateway.doors.openai.objects import DeletedResponse, ItemList, ResponseObject
from gateway.doors.openai.render import item_list, response_object
from gateway.doors.openai.schemas import OpenAIResponseCreate
from gateway.doors.openai.turn import REPLAYED, TurnEdge
from gateway.doors.openai.unsupported import refuse_include
from gateway.errors import UnsupportedParameter
from gateway.http.idempotency import idempotency_key
from gateway.http.sse import SSE_HEADERS, EventStream

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="page size, 1-100")]
Cursor = Annotated[str | None, QueryParameter(max_length=256, description="the previous page's `last_id`")]
Order = Annotated[Literal["asc", "desc"], QueryParameter(description="`desc` (default): newest first")]
Include = Annotated[str | None, QueryParameter(name="include[]", max_length=256, description="unsupported")]
SSE = "text/event-stream"


@post("/responses", status_code=200, summary="Create a model response (OpenAI's Responses API)")
async def create_response(
    request: Request[Any, Any, Any],
    data: JSONBody[OpenAIResponseCreate],
    openai_edge: NamedDependency[TurnEdge],
) -> ResponseObject:
    org: str = request.state.org
    key = idempotency_key(request.scope["headers"])
    if not data.stream:
        body, headers = await openai_edge.answer(org, data, key)
        return Response(body, media_type="application/json", headers=headers)  # type: ignore[return-value]
    prepared = await openai_edge.prepare(org, data, key)
    if isinstance(prepared, ResponseRecord):
        replay = openai_edge.replay_events(prepared)
        return EventStream(replay, media_type=SSE, headers={**SSE_HEADERS, **REPLAYED})  # type: ignore[return-value]
    return EventStream(  # type: ignore[return-value]
        openai_edge.events(prepared),
        media_type=SSE,
        headers=SSE_HEADERS,
        # Runs after the answer, whatever became of it: a stream that never ran gives its thread up.
        background=BackgroundTask(openai_edge.abandon, prepared),
    )


@get("/responses/{response_id:str}", summary="Retrieve a stored response")
async def get_response(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    response_id: FromPath[str],
    include: Include = None,
    stream: Annotated[bool, QueryParameter(description="only false: nothing runs in the background")] = False,
    starting_after: Annotated[int | None, QueryParameter(ge=0, description="unsupported")] = None,
    include_obfuscation: Annotated[bool | None, QueryParameter(description="no padding either way")] = None,
) -> ResponseObject:
    refuse_include(include, "include[]")
    if stream:
        raise UnsupportedParameter("stream")
    if starting_after is not None:
        raise UnsupportedParameter("starting_after")
    return response_object(await services.turns.get_response(request.state.org, response_id[:256]))


@delete("/responses/{response_id:str}", status_code=200, summary="Delete a stored response")
async def delete_response(
    request: Request[Any, Any, Any], services: NamedDependency[Services], response_id: FromPath[str]
) -> DeletedResponse:
    await services.items.delete_response(request.state.org, response_id[:256])
    return DeletedResponse(id=response_id[:256])


@get("/responses/{response_id:str}/input_items", summary="The input items a stored response saw")
async def list_input_items(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    response_id: FromPath[str],
    limit: Limit = 20,
    after: Cursor = None,
    order: Order = "desc",
    include: Include = None,
) -> ItemList:
    refuse_include(include, "include[]")
    record = await services.turns.get_response(request.state.org, response_id[:256])
    # What the model saw, as items (not the request's instructions, which are the response's own).
    items = [
        message_item(context_item_id(record.id, i), m.role, m.texts) for i, m in enumerate(record.context)
    ]
    if order == "desc":
        items.reverse()
    start = 0
    if after is not None:
        at = context_index(record.id, after)
        if at is None or at >= len(items):
            raise errors.ValidationFailed(
                "`after` names no item of this list.", details={"parameter": "after"}
            )
        start = (len(items) - 1 - at if order == "desc" else at) + 1
    page = items[start : start + limit]
    return item_list(page, start + limit < len(items))
