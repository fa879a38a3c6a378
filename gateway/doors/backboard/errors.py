"""The Backboard door's error envelope (SPEC §13): the status code and `{"detail": "..."}`, as
Backboard's API answers and as `backboard-sdk` reads it (`detail`, then the status picks the
exception class). Every error, ours or the framework's, is rendered here once."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response

from gateway import errors
from gateway.http.context import request_id
from gateway.http.failures import gateway_error

_encode = msgspec.json.Encoder().encode


class BackboardError(msgspec.Struct, frozen=True, kw_only=True):
    detail: str


def render_error(exc: Exception, rid: str) -> tuple[errors.GatewayError, bytes]:
    """The gateway error an exception stands for, and its `detail` body as JSON."""
    error = gateway_error(exc, rid)
    return error, _encode(BackboardError(detail=error.message))


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    error, body = render_error(exc, request_id(request.scope))
    return Response(
        content=body, status_code=error.status, media_type="application/json", headers=error.headers
    )
