"""Strict body decoding, run before the framework's own (lenient) conversion.

Litestar converts bodies with msgspec's lax rules (`"false"` becomes False, `1` becomes True) and
lets some decoding failures escape as 500s. Each body is first decoded here against its schema
with msgspec's strict rules; only a body that passes reaches the handler.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request

from gateway.errors import ValidationFailed

# What decoding a body may raise (ValidationError is a DecodeError): refused, never a 500.
UNREADABLE: tuple[type[Exception], ...] = (
    msgspec.DecodeError,
    RecursionError,
    UnicodeDecodeError,
    ValueError,
)


def strict_json(schema: type, *, optional: bool = False) -> Any:
    """A `before_request` hook that refuses a body not matching `schema` exactly (422)."""
    decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(schema)

    async def check(request: Request[Any, Any, Any]) -> None:
        body = await request.body()
        if optional and not body.strip():
            return
        try:
            decoder.decode(body)
        except msgspec.ValidationError as exc:
            raise ValidationFailed("The request body is not valid.", details={"reason": str(exc)}) from None
        except UNREADABLE:
            raise ValidationFailed("The request body is not valid JSON.") from None

    return check
