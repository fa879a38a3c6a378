"""The fast path of `POST /v1/responses`: the everyday, non-streamed response as plain ASGI in front
of Litestar, as the Freddy door has one for its turn (see `gateway.http.asgi`).

Only a well-formed JSON body with a valid key, no query string and no `stream: true` is taken;
anything else (a bad key or body, a body over the limit, a stream, a query string) is handed to the
framework route unchanged, the body already read given back, so every error and every stream comes
from the one route. Both share the turn (`TurnEdge`), the key check, the envelope and the log line.
"""

from __future__ import annotations

import msgspec
import structlog
from litestar.types import ASGIApp, HTTPScope, Receive, Scope, Send

from gateway.doors.openai.schemas import OpenAIResponseCreate
from gateway.doors.openai.turn import TurnEdge
from gateway.http.auth import KeyRing, presented_key
from gateway.http.body import UNREADABLE, hand_over
from gateway.http.context import request_id
from gateway.http.fastpath import declared_length, read_body, send_json
from gateway.http.idempotency import idempotency_key

PATH = "/v1/responses"
_decode = msgspec.json.Decoder(OpenAIResponseCreate).decode


class FastResponses:
    """Answers the everyday response itself and hands everything else to the framework route."""

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
        if body.gone:
            return
        key = presented_key(scope["headers"])
        org = self._keyring.organization(key) if key is not None else None
        if body.data is None or org is None:
            await handoff(scope, body.replay, send)
            return
        try:
            data = _decode(body.data)
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
            answer, headers = await self._edge.answer(org, data, idempotency_key(scope["headers"]))
            status = 200
        except Exception as exc:  # noqa: BLE001 - every failure becomes the envelope, as in the framework
            error, answer = self._edge.error(exc, rid)
            status, headers = error.status, error.headers
        await send_json(scope, send, status, answer, headers)
