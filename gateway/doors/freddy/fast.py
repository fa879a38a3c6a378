"""The fast path of `POST /v1/model/response`: the hot route as plain ASGI, in front of Litestar.

Through the framework, a turn pays for routing, the middleware and guard stack, dependency
injection, a strict decode of the body (`gateway.api.body`), a second, lenient decode into the
handler's `data`, and the response machinery: about a fifth of a turn's CPU. Here the body is read
and decoded once (strictly), the key checked, and the turn answered with one msgspec encode.

Only the everyday case is taken: a well-formed JSON turn with a valid key, no query string, not
streamed. Anything else (a bad key, a bad body, a body over the limit, another organization named,
`stream: true`, a query string) is handed to the Litestar route unchanged, with the body already
read replayed, so every error and every streamed answer comes from the one framework route; both
paths share the turn logic, the key check, the error envelope and the request log. The framework
route stays registered: it is what the OpenAPI document describes.
"""

from __future__ import annotations

import msgspec
import structlog
from litestar.types import ASGIApp, HTTPScope, Receive, Scope, Send

from gateway.doors.freddy.schemas import ResponseRequest
from gateway.doors.freddy.turn import TurnEdge
from gateway.http.auth import KeyRing, presented_key
from gateway.http.body import UNREADABLE, hand_over
from gateway.http.context import request_id
from gateway.http.fastpath import declared_length, read_body, send_json
from gateway.http.idempotency import idempotency_key

PATH = "/v1/model/response"

_decode_request = msgspec.json.Decoder(ResponseRequest).decode


class FastTurns:
    """Answers the everyday turn itself and hands everything else to the framework route."""

    def __init__(self, edge: TurnEdge, *, keyring: KeyRing, max_body_bytes: int) -> None:
        self._edge = edge
        self._keyring = keyring
        self._max_body = max_body_bytes

    def takes(self, scope: HTTPScope) -> bool:
        return scope["path"] == PATH and scope["method"] == "POST" and not scope.get("query_string")

    async def __call__(self, scope: Scope, receive: Receive, send: Send, handoff: ASGIApp) -> None:
        declared = declared_length(scope)
        if declared is not None and declared > self._max_body:
            await handoff(scope, receive, send)  # its 413
            return
        rid = request_id(scope)
        body = await read_body(receive, self._max_body)
        if body.gone:  # the client left before sending its body
            return
        if body.data is None:  # over the limit: the route's 413
            await handoff(scope, body.replay, send)
            return
        key = presented_key(scope["headers"])
        org = self._keyring.organization(key) if key is not None else None
        if org is None:
            await handoff(scope, body.replay, send)
            return
        try:
            data = _decode_request(body.data)
        except UNREADABLE:  # the framework route answers with its 422
            await handoff(scope, body.replay, send)
            return
        if data.stream:
            hand_over(scope, data)  # decoded once: the route takes it as it is
            await handoff(scope, body.replay, send)
            return
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=rid, organization_id=org)
        try:
            answer, extra = await self._edge.answer(org, data, idempotency_key(scope["headers"]))
            status = 200
        except Exception as exc:  # noqa: BLE001 - every failure becomes the envelope, as in the framework
            error, answer = self._edge.error(exc, rid)
            status, extra = error.status, error.headers
        await send_json(scope, send, status, answer, extra)  # X-Request-ID and the request log line
