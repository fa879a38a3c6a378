"""The pieces of a door's fast path (see `gateway.http.asgi`): the body read once, with a `receive`
that gives it back to the framework route when the fast path hands the request over, and a JSON
answer sent with the request id and the request log line as the framework's would be."""

from __future__ import annotations

from litestar.types import (
    HTTPRequestEvent,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    ReceiveMessage,
    Scope,
    Send,
)

from gateway.http.context import before_send


def declared_length(scope: Scope) -> int | None:
    """The request's `Content-Length`, when it has a readable one."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


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
