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
from litestar.types import (
    ASGIApp,
    HTTPRequestEvent,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    HTTPScope,
    Receive,
    ReceiveMessage,
    Scope,
    Send,
)

from gateway.doors.freddy.schemas import ResponseRequest
from gateway.doors.freddy.turn import TurnEdge
from gateway.http.auth import KeyRing, presented_key
from gateway.http.body import UNREADABLE, hand_over
from gateway.http.context import before_send, request_id
from gateway.http.idempotency import idempotency_key

PATH = "/v1/model/response"

_decode_request = msgspec.json.Decoder(ResponseRequest).decode


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(chunks: list[bytes], more: bool, receive: Receive) -> Receive:
    """A `receive` that first gives back the body already read, then the rest of the request."""
    pending: list[HTTPRequestEvent] = [
        {"type": "http.request", "body": chunk, "more_body": more or i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ] or [{"type": "http.request", "body": b"", "more_body": more}]

    async def replayed() -> ReceiveMessage:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


class FastTurns:
    """Answers the everyday turn itself and hands everything else to the framework route."""

    def __init__(self, edge: TurnEdge, *, keyring: KeyRing, max_body_bytes: int) -> None:
        self._edge = edge
        self._keyring = keyring
        self._max_body = max_body_bytes

    def takes(self, scope: HTTPScope) -> bool:
        return scope["path"] == PATH and scope["method"] == "POST" and not scope.get("query_string")

    async def __call__(self, scope: Scope, receive: Receive, send: Send, handoff: ASGIApp) -> None:
        declared = _declared_length(scope)
        if declared is not None and declared > self._max_body:
            await handoff(scope, receive, send)  # its 413
            return
        rid = request_id(scope)
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left before sending its body
                return
            chunk = message.get("body", b"")
            if chunk:
                chunks.append(chunk)
                size += len(chunk)
            more = message.get("more_body", False)
            if size > self._max_body:
                await handoff(scope, _replay(chunks, more, receive), send)
                return
        replay = _replay(chunks, False, receive)
        key = presented_key(scope["headers"])
        org = self._keyring.organization(key) if key is not None else None
        if org is None:
            await handoff(scope, replay, send)
            return
        try:
            data = _decode_request(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        except UNREADABLE:  # the framework route answers with its 422
            await handoff(scope, replay, send)
            return
        if data.stream:
            hand_over(scope, data)  # decoded once: the route takes it as it is
            await handoff(scope, replay, send)
            return
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=rid, organization_id=org)
        try:
            body, extra = await self._edge.answer(org, data, idempotency_key(scope["headers"]))
            status = 200
        except Exception as exc:  # noqa: BLE001 - every failure becomes the envelope, as in the framework
            error, body = self._edge.error(exc, rid)
            status, extra = error.status, error.headers
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(body)),
            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()),
        ]
        start: HTTPResponseStartEvent = {"type": "http.response.start", "status": status, "headers": headers}
        await before_send(start, scope)  # X-Request-ID and the request log line
        await send(start)
        end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
        await send(end)
