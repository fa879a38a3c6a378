"""The answers of the HTTP server itself, before or beside the app: a request head over its limits, a
request read too slowly, bytes that are not HTTP/1.1. Each is the Freddy envelope (SPEC §8) with
its own request id, sent with `Connection: close`, and logged as one request line."""

from __future__ import annotations

import msgspec
import structlog
from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from gateway.doors.freddy.errors import ErrorEnvelope, error_body
from gateway.errors import GatewayError

_encode = msgspec.json.Encoder().encode
_log = structlog.get_logger("gateway.access")


class HeadersTooLarge(GatewayError):
    status, code, type = 431, "HEADERS_TOO_LARGE", "invalid_request_error"


class RequestTimeout(GatewayError):
    status, code, type = 408, "REQUEST_TIMEOUT", "invalid_request_error"


class MalformedRequest(GatewayError):
    status, code, type = 400, "BAD_REQUEST", "invalid_request_error"


def head_too_large(limit: int) -> HeadersTooLarge:
    return HeadersTooLarge("The request line and headers are too large.", details={"max_header_bytes": limit})


def too_many_headers(limit: int) -> HeadersTooLarge:
    return HeadersTooLarge("The request has too many headers.", details={"max_headers": limit})


def head_too_slow(timeout_s: float) -> RequestTimeout:
    return RequestTimeout(
        "The request headers did not arrive in time.", details={"header_timeout_s": timeout_s}
    )


def body_too_slow(timeout_s: float) -> RequestTimeout:
    return RequestTimeout("The request body did not arrive in time.", details={"body_timeout_s": timeout_s})


def malformed(reason: str) -> MalformedRequest:
    # The parser's reason is one of its fixed messages ("Invalid header value char"), never the input.
    return MalformedRequest("The request is not valid HTTP/1.1.", details={"reason": reason})


def response(error: GatewayError, rid: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """The whole HTTP/1.1 answer: status line, headers (`X-Request-ID`, `Connection: close`), body."""
    body = _encode(ErrorEnvelope(error=error_body(error, rid)))
    head = [STATUS_LINE[error.status]]
    head += [name + b": " + value + b"\r\n" for name, value in default_headers]
    head += [
        b"content-type: application/json\r\n",
        b"content-length: %d\r\n" % len(body),
        b"x-request-id: " + rid.encode() + b"\r\n",
        b"connection: close\r\n\r\n",
    ]
    return b"".join(head) + body


def log(error: GatewayError, rid: str, method: str | None, path: str | None, duration_s: float) -> None:
    """The request line, as the app logs its own (no header, no body: a header may carry a key)."""
    _log.info(
        "request",
        request_id=rid,
        method=method,
        path=path,
        status=error.status,
        code=error.code,
        duration_ms=round(duration_s * 1000, 2),
    )
