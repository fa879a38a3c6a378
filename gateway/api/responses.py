"""POST /v1/model/response (SPEC §3): decode, authenticate, hand to `turns`, encode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import structlog
from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from gateway.api.auth import check_organization
from gateway.api.body import strict_json
from gateway.api.context import envelope, request_id
from gateway.api.services import Services
from gateway.render import in_progress_object, response_object
from gateway.schemas import ResponseObject, ResponseRequest
from gateway.turns import Completed, Created, Delta, Done, Failed, StreamEvent

_encode = msgspec.json.Encoder().encode


def _event(name: str, **fields: Any) -> ServerSentEventMessage:
    return ServerSentEventMessage(event=name, data=_encode({"type": name, **fields}).decode())


async def _sse(events: AsyncIterator[StreamEvent], rid: str) -> AsyncIterator[ServerSentEventMessage]:
    async for ev in events:
        match ev:
            case Created(p):
                obj = in_progress_object(
                    p.response_id,
                    p.created_us,
                    p.model,
                    p.thread_id if p.previous_response_id is None else None,
                    p.previous_response_id,
                )
                yield _event("response.created", response=obj)
            case Delta(text):
                yield _event("response.output_text.delta", delta=text)
            case Done(text):
                yield _event("response.output_text.done", text=text)
            case Completed(record):
                yield _event("response.completed", response=response_object(record))
            case Failed(error):
                body = msgspec.json.decode(
                    envelope(
                        status=error.status,
                        code=error.code,
                        type_=error.type,
                        message=error.message,
                        details=error.details,
                        rid=rid,
                    )
                )
                yield _event("response.failed", error=body["error"])


class _EventStream(ServerSentEvent):
    """An SSE answer that keeps `text/event-stream` even from a handler whose default is JSON.

    Litestar 2 lets the handler's media type win over the response's own, contrary to its docs.
    """

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["media_type"] = None
        return super().to_asgi_response(*args, **kwargs)


@post(
    "/model/response",
    status_code=200,
    summary="Answer the new turn of a conversation",
    before_request=strict_json(ResponseRequest),
)
async def create_response(
    request: Request[Any, Any, Any], data: JSONBody[ResponseRequest], services: NamedDependency[Services]
) -> ResponseObject | ServerSentEvent:
    org: str = request.state.org
    turns = services.turns
    check_organization(data.organization_id, org)
    structlog.contextvars.bind_contextvars(model=data.model)
    prepared = await turns.prepare(org, data)
    structlog.contextvars.bind_contextvars(thread_id=prepared.thread_id)
    if data.stream:
        return _EventStream(_sse(turns.stream(prepared), request_id(request.scope)))
    return response_object(await turns.complete(prepared))
