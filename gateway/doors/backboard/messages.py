"""The turn routes of the Backboard door (SPEC §13): `POST /api/threads/messages` (JSON, form or
multipart; `send_message` and `add_message` of backboard-sdk 1.5.19) and the older
`POST /api/threads/{thread_id}/messages` (form or multipart). Both are one turn (`turn.TurnEdge`)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream

from gateway.doors.backboard.forms import read_message_body
from gateway.doors.backboard.ids import thread_path_id
from gateway.doors.backboard.objects import BackboardAnswer
from gateway.doors.backboard.schemas import BackboardMessageBody
from gateway.doors.backboard.turn import REPLAYED, TurnEdge
from gateway.errors import ConflictingParameters
from gateway.http.idempotency import idempotency_key
from gateway.http.sse import SSE_HEADERS, EventStream


async def _turn(
    request: Request[Any, Any, Any], edge: TurnEdge, body: BackboardMessageBody
) -> Response[bytes] | Stream:
    org: str = request.state.org
    key = idempotency_key(request.scope["headers"])
    if not body.stream:
        answer, headers = await edge.whole(org, body, key)
        return Response(answer, media_type="application/json", headers=headers)
    turn = await edge.prepare(org, body, key)
    if turn.replay is not None:
        events = edge.replay_events(turn.replay)
        return EventStream(events, media_type="text/event-stream", headers={**SSE_HEADERS, **REPLAYED})
    prepared = turn.prepared
    assert prepared is not None
    return EventStream(
        edge.events(prepared, turn.assistant_id),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
        # Runs after the answer, whatever became of it: a stream that never ran gives its thread up.
        background=BackgroundTask(edge.abandon, prepared),
    )


@post("/threads/messages", status_code=200, summary="Send a message: a turn (a new thread without thread_id)")
async def send_message(request: Request[Any, Any, Any], edge: NamedDependency[TurnEdge]) -> BackboardAnswer:
    body = await read_message_body(request)
    return await _turn(request, edge, body)  # type: ignore[return-value]


@post("/threads/{thread_id:str}/messages", status_code=200, summary="Add a message to a thread: a turn")
async def add_message(
    request: Request[Any, Any, Any], edge: NamedDependency[TurnEdge], thread_id: FromPath[str]
) -> BackboardAnswer:
    tid = thread_path_id(thread_id)
    body = await read_message_body(request)
    if body.thread_id is not None and body.thread_id != tid:
        raise ConflictingParameters("The body's `thread_id` is not the thread of the path.")
    return await _turn(request, edge, msgspec.structs.replace(body, thread_id=tid))  # type: ignore[return-value]
