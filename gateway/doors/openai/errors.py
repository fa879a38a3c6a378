"""The OpenAI door's error envelope (SPEC §14): `{"error": {"message", "type", "param", "code"}}`
with the status codes of SPEC §8, so that the `openai` SDK raises its class for each status
(`AuthenticationError` 401, `PermissionDeniedError` 403, `NotFoundError` 404, `ConflictError` 409,
`UnprocessableEntityError` 422, `BadRequestError` 400, `RateLimitError` 429, ...). Every error,
ours or the framework's, is rendered here once."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request, Response

from gateway import errors
from gateway.http.context import request_id
from gateway.http.failures import gateway_error

_encode = msgspec.json.Encoder().encode
# OpenAI's names for the codes it shares with the gateway; others are the gateway's, in lower case.
_CODES = {"RATE_LIMITED": "rate_limit_exceeded"}
_TYPES = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}
# The field a decoding error names (msgspec: "... - at `$.input[0].role`").
_AT = re.compile(r"at `\$\.?([^`]*)`")


class OpenAIErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIErrorEnvelope(msgspec.Struct, frozen=True, kw_only=True):
    error: OpenAIErrorBody


def _param(error: errors.GatewayError) -> str | None:
    named = error.details.get("parameter")
    if isinstance(named, str):
        return named
    reason = error.details.get("reason")
    found = _AT.search(reason) if isinstance(reason, str) else None
    return found.group(1) or None if found else None


def error_body(error: errors.GatewayError) -> OpenAIErrorBody:
    status = error.status
    kind = _TYPES.get(status) or ("server_error" if status >= 500 else "invalid_request_error")
    return OpenAIErrorBody(
        message=error.message,
        type=kind,
        param=_param(error),
        code=_CODES.get(error.code, error.code.lower()),
    )


def render_error(exc: Exception, rid: str) -> tuple[errors.GatewayError, bytes]:
    """The gateway error an exception stands for, and its OpenAI envelope as JSON."""
    error = gateway_error(exc, rid)
    return error, _encode(OpenAIErrorEnvelope(error=error_body(error)))


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    error, body = render_error(exc, request_id(request.scope))
    return Response(
        content=body, status_code=error.status, media_type="application/json", headers=error.headers
    )
