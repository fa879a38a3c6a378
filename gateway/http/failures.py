"""Framework exceptions as gateway errors: the one mapping every door's error renderer starts from."""

from __future__ import annotations

from typing import Any

import msgspec
import structlog
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.exceptions.http_exceptions import MethodNotAllowedException

from gateway import errors

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
        # RFC 9110: a 405 says which methods the resource has.
        allow = {k: v for k, v in (exc.headers or {}).items() if k.lower() == "allow"}
        return errors.MethodNotAllowed("This method is not allowed on this endpoint.", headers=allow)
    if isinstance(exc, HTTPException):
        if exc.status_code == 413:
            return errors.PayloadTooLarge("The request body is too large.")
        if exc.status_code < 500:
            # Malformed bodies (bad JSON, wrong content) surface here as 400s from the framework.
            return errors.ValidationFailed("The request could not be read.", details={"reason": exc.detail})
    if isinstance(exc, msgspec.ValidationError | msgspec.DecodeError):
        return errors.ValidationFailed(str(exc))
    return errors.InternalError("The gateway failed to process the request.")


def gateway_error(exc: Exception, rid: str) -> errors.GatewayError:
    """The gateway error an exception stands for; an unexpected one is logged with its traceback
    (the caller only gets the request id to quote)."""
    error = _as_gateway_error(exc)
    if isinstance(error, errors.InternalError):
        _log.error("unhandled_error", request_id=rid, exc_type=type(exc).__name__, exc_info=exc)
    return error
