"""The one exception handler: every error, ours or the framework's, becomes the envelope of SPEC §8."""

from __future__ import annotations

from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.exceptions.http_exceptions import MethodNotAllowedException

from gateway import errors
from gateway.api.context import envelope, request_id

_log = structlog.get_logger("gateway.errors")


def _validation_details(exc: ValidationException) -> dict[str, Any]:
    extra = exc.extra
    if isinstance(extra, list):
        problems = [
            {k: v for k, v in item.items() if k in ("message", "key", "source")}
            for item in extra
            if isinstance(item, dict)
        ]
        return {"errors": problems}
    return {}


def _as_gateway_error(exc: Exception) -> errors.GatewayError:
    if isinstance(exc, errors.GatewayError):
        return exc
    if isinstance(exc, ValidationException):
        return errors.ValidationFailed("The request is not valid.", details=_validation_details(exc))
    if isinstance(exc, NotFoundException):
        return errors.NotFound("No such endpoint.")
    if isinstance(exc, MethodNotAllowedException):
        return errors.MethodNotAllowed("This method is not allowed on this endpoint.")
    if isinstance(exc, HTTPException):
        if exc.status_code == 413:
            return errors.PayloadTooLarge("The request body is too large.")
        if exc.status_code < 500:
            # Malformed bodies (bad JSON, wrong content) surface here as 400s from the framework.
            return errors.ValidationFailed("The request could not be read.", details={"reason": exc.detail})
    if isinstance(exc, msgspec.ValidationError | msgspec.DecodeError):
        return errors.ValidationFailed(str(exc))
    return errors.InternalError("The gateway failed to process the request.")


def render_error(exc: Exception, rid: str) -> tuple[errors.GatewayError, bytes]:
    """The gateway error an exception stands for, and its envelope (logged when unexpected)."""
    error = _as_gateway_error(exc)
    if isinstance(error, errors.InternalError):
        # The traceback is logged; the caller only gets the request id to quote.
        _log.error("unhandled_error", request_id=rid, exc_type=type(exc).__name__, exc_info=exc)
    body = envelope(
        status=error.status,
        code=error.code,
        type_=error.type,
        message=error.message,
        details=error.details,
        rid=rid,
    )
    return error, body


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    error, body = render_error(exc, request_id(request.scope))
    return Response(
        content=body, status_code=error.status, media_type="application/json", headers=error.headers
    )
