"""The pieces of a door's fast path (see `gateway.http.asgi`): the body read once, with a `receive`
that gives it back to the framework route when the fast path hands the request over, and a JSON
answer sent with the request id and the request log line as the framework's would be."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

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

from gateway.errors import GatewayError
from gateway.http.auth import KeyRing, presented_key
from gateway.http.body import UNREADABLE, hand_over
from gateway.http.context import before_send, request_id
from gateway.http.idempotency import idempotency_key


def declared_length(scope: Scope) -> int | None:
    """The request's `Content-Length`, when it has a readable one."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def is_json(scope: Scope) -> bool:
    """Whether the request's body is JSON by its `Content-Type` (none counts as JSON)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == b"application/json"
    return True


def replaying(chunks: list[bytes], more: bool, receive: Receive) -> Receive:
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


class Body:
    """A request body read by a fast path: `data` (None when it passed `max_bytes` or the client
    left before sending it) and `replay`, the `receive` to hand the request over with."""

    __slots__ = ("data", "gone", "replay")

    def __init__(self, data: bytes | None, replay: Receive, *, gone: bool = False) -> None:
        self.data = data
        self.replay = replay
        self.gone = gone


async def read_body(receive: Receive, max_bytes: int) -> Body:
    """The whole body, up to `max_bytes` (beyond: `data` None, the framework answers 413)."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":  # the client left before sending its body
            return Body(None, receive, gone=True)
        chunk = message.get("body", b"")
        if chunk:
            chunks.append(chunk)
            size += len(chunk)
        more = message.get("more_body", False)
        if size > max_bytes:
            return Body(None, replaying(chunks, more, receive))
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return Body(data, replaying(chunks, False, receive))


async def send_json(scope: Scope, send: Send, status: int, body: bytes, headers: dict[str, str]) -> None:
    """A JSON answer, with `X-Request-ID` and the request log line (`before_send`)."""
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()),
    ]
    start: HTTPResponseStartEvent = {"type": "http.response.start", "status": status, "headers": raw}
    await before_send(start, scope)
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)


class StreamingBody(Protocol):
    @property
    def stream(self) -> bool | None: ...


class Edge[B](Protocol):
    """What a door's turn edge gives its fast path: the whole answer, and a failure's envelope."""

    async def answer(self, org: str, body: B, key: str | None = None) -> tuple[bytes, dict[str, str]]: ...

    def error(self, exc: Exception, rid: str) -> tuple[GatewayError, bytes]: ...


class FastRoute[B: StreamingBody]:
    """One door's everyday turn as plain ASGI: `POST path`, no query string, a valid key and a body
    that `decode` reads, not streamed. Anything else is handed to the framework route with the body
    given back (and, once decoded, the decoded body handed over), so every error and every stream
    comes from the one route, and both paths share the edge, the key check and the log line."""

    def __init__(
        self,
        path: str,
        decode: Callable[[bytes], B],
        edge: Edge[B],
        *,
        keyring: KeyRing,
        max_body_bytes: int,
        json_only: bool = False,
    ) -> None:
        self._path = path
        self._decode = decode
        self._edge = edge
        self._keyring = keyring
        self._limiter = keyring.limiter
        self._max_body = max_body_bytes
        # A route that also reads other media (forms): only JSON bodies (or none named) are taken.
        self._json_only = json_only

    def takes(self, scope: HTTPScope) -> bool:
        return (
            scope["path"] == self._path
            and scope["method"] == "POST"
            and not scope.get("query_string")
            and (not self._json_only or is_json(scope))
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send, handoff: ASGIApp) -> None:
        declared = declared_length(scope)
        if declared is not None and declared > self._max_body:
            await handoff(scope, receive, send)  # its 413
            return
        rid = request_id(scope)
        body = await read_body(receive, self._max_body)
        if body.gone:  # the client left before sending its body
            return
        key = presented_key(scope["headers"])
        org = self._keyring.organization(key) if key is not None else None
        if body.data is None or key is None or org is None:  # over the limit (413), or the key's 401
            await handoff(scope, body.replay, send)
            return
        try:
            data = self._decode(body.data)
        except UNREADABLE:  # the framework route answers with its 422
            await handoff(scope, body.replay, send)
            return
        if data.stream:
            hand_over(scope, data)  # decoded once: the route takes it as it is
            await handoff(scope, body.replay, send)
            return
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=rid, organization_id=org)
        headers: dict[str, Any]
        limits: dict[str, str] | None = None
        try:
            if self._limiter is not None:
                # Counted here only when this path answers (one handed over is counted by the guard).
                limits = await self._limiter.admit(key)
            answer, headers = await self._edge.answer(org, data, idempotency_key(scope["headers"]))
            status = 200
        except Exception as exc:  # noqa: BLE001 - every failure becomes the envelope, as in the framework
            error, answer = self._edge.error(exc, rid)
            status, headers = error.status, error.headers
        if limits:
            headers = {**headers, **limits}
        await send_json(scope, send, status, answer, headers)  # X-Request-ID and the request log line
