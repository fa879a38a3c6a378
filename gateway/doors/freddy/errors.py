"""The Freddy door's error envelope (SPEC §8): every error, ours or the framework's, rendered once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, Response

from gateway import errors
from gateway.http.context import request_id
from gateway.http.failures import gateway_error

_encode = msgspec.json.Encoder().encode


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    message: str
    type: str
    status: int
    details: dict[str, Any]
    trace_id: str
    timestamp: str


class ErrorEnvelope(msgspec.Struct, frozen=True, kw_only=True):
    success: bool = False
    error: ErrorBody


def error_body(error: errors.GatewayError, rid: str) -> ErrorBody:
    return ErrorBody(
        code=error.code,
        message=error.message,
        type=error.type,
        status=error.status,
        details=error.details,
        trace_id=rid,
        timestamp=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    )


def render_error(exc: Exception, rid: str) -> tuple[errors.GatewayError, bytes]:
    """The gateway error an exception stands for, and its envelope as JSON."""
    error = gateway_error(exc, rid)
    return error, _encode(ErrorEnvelope(error=error_body(error, rid)))


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    error, body = render_error(exc, request_id(request.scope))
    return Response(
        content=body, status_code=error.status, media_type="application/json", headers=error.headers
    )
