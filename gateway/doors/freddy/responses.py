"""POST /v1/model/response (SPEC §3): the framework route of the turn (see `turn.TurnEdge`).

The fast path (`fast.py`) answers the everyday turn in front of this route; this route answers the
rest (streams, errors) and is what the OpenAPI document describes.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Stream

from gateway.core.records import ResponseRecord
from gateway.core.services import Services
from gateway.core.threads import known_id
from gateway.doors.freddy.objects import CancelOutcome, ResponseObject
from gateway.doors.freddy.schemas import ResponseRequest
from gateway.doors.freddy.turn import REPLAYED, TurnEdge
from gateway.http.context import request_id
from gateway.http.idempotency import idempotency_key
from gateway.http.sse import SSE_HEADERS, EventStream


@post("/model/response", status_code=200, summary="Answer the new turn of a conversation")
async def create_response(
    request: Request[Any, Any, Any], data: JSONBody[ResponseRequest], edge: NamedDependency[TurnEdge]
) -> ResponseObject | Stream:
    org: str = request.state.org
    key = idempotency_key(request.scope["headers"])
    if not data.stream:
        body, headers = await edge.answer(org, data, key)
        return Response(body, media_type="application/json", headers=headers)  # type: ignore[return-value]
    prepared = await edge.prepare(org, data, key)
    if isinstance(prepared, ResponseRecord):
        return EventStream(
            edge.replay_events(prepared), media_type="text/event-stream", headers={**SSE_HEADERS, **REPLAYED}
        )
    return EventStream(
        edge.events(prepared, request_id(request.scope)),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
        # Runs after the answer, whatever became of it: a stream that never ran gives its thread up.
        background=BackgroundTask(edge.abandon, prepared),
    )


@post("/model/response/{thread_id:str}/cancel", status_code=200, summary="Stop a thread's running stream")
async def cancel_response(
    request: Request[Any, Any, Any], services: NamedDependency[Services], thread_id: FromPath[str]
) -> CancelOutcome:
    outcome = await services.turns.cancel(request.state.org, known_id(thread_id))
    return CancelOutcome(
        success=outcome.success,
        cancel_mode=outcome.cancel_mode,
        elapsed_seconds=outcome.elapsed_seconds,
        user_message_deleted=outcome.user_message_deleted,
        assistant_response_deleted=outcome.assistant_response_deleted,
        partial_content_saved=outcome.partial_content_saved,
    )
