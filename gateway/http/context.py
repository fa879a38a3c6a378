"""Per-request context of every door: the request id (`X-Request-ID`) and the request line log."""

from __future__ import annotations

import re
import time

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from gateway.ids import new_id

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_log = structlog.get_logger("gateway.access")


def request_id(scope: Scope) -> str:
    """The caller's `X-Request-ID` when well-formed, else a new one; the same for the whole request."""
    state = scope.setdefault("state", {})
    rid: str | None = state.get("request_id")
    if rid is None:
        given = next((v for k, v in scope.get("headers", ()) if k == b"x-request-id"), b"")
        text = given.decode("latin-1")
        rid = text if _REQUEST_ID_RE.fullmatch(text) else new_id("req")
        state["request_id"] = rid
        state.setdefault("started", time.perf_counter())
    return rid


class RequestContextMiddleware:
    """Binds the request id to the log context before anything else of the request runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(request_id=request_id(scope))
        await self.app(scope, receive, send)


async def before_send(message: Message, scope: Scope) -> None:
    """Adds `X-Request-ID` to every answer and logs the request line (no headers, no body)."""
    if message["type"] != "http.response.start":
        return
    rid = request_id(scope)
    # Kept for the request's metrics and span (gateway.http.asgi), read once the answer is done.
    scope["state"]["status"] = message["status"]
    headers = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
    if scope.get("method") == "OPTIONS" and message["status"] == 204:
        headers = _with_allow(headers, scope)
    message["headers"] = headers
    started = scope.get("state", {}).get("started")
    duration = round((time.perf_counter() - started) * 1000, 2) if started else None
    _log.info(
        "request",
        request_id=rid,
        method=scope.get("method"),
        path=scope.get("path"),
        status=message["status"],
        duration_ms=duration,
    )


def _with_allow(headers: list[tuple[bytes, bytes]], scope: Scope) -> list[tuple[bytes, bytes]]:
    """The framework's answer to `OPTIONS` names only some of the route's methods: the route's own
    list replaces it (looked up each time: `OPTIONS` is rare and the routes are few)."""
    app, template = scope.get("app"), scope.get("path_template")
    routes = [r for r in getattr(app, "routes", ()) if hasattr(r, "methods")]
    route = next((r for r in routes if template in (r.path, r.path_format)), None)
    if route is None:
        return headers
    allow = ", ".join(sorted(route.methods)).encode()
    return [(k, v) for k, v in headers if k.lower() != b"allow"] + [(b"allow", allow)]
