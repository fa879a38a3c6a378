"""Strict body decoding, once per request, for every door.

Litestar converts bodies with msgspec's lax rules (`"false"` becomes False, `1` becomes True) and
lets some decoding failures escape as 500s. `StrictRequest` (the app's request class) decodes the
body of a route's `data` straight into its declared type with msgspec's strict rules; the handler's
lenient conversion then receives an instance of that type, which it passes through unchanged. A
body already decoded in front of the framework (the fast path) is handed over in the scope, not
decoded again.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Scope

from gateway.errors import ValidationFailed

# What decoding a body may raise (ValidationError is a DecodeError): refused, never a 500.
UNREADABLE: tuple[type[Exception], ...] = (
    msgspec.DecodeError,
    RecursionError,
    UnicodeDecodeError,
    ValueError,
)
_DECODED = "gateway.body"
_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}  # by the declared type


def hand_over(scope: Scope, body: object) -> None:
    """Give the framework route a body decoded (strictly, by its type) in front of it."""
    scope.setdefault("state", {})[_DECODED] = body


def strict_decode(decoder: msgspec.json.Decoder[Any], body: bytes) -> Any:
    """`body` decoded by `decoder`; 422 `VALIDATION_ERROR` with the reason when it does not fit."""
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise ValidationFailed("The request body is not valid.", details={"reason": str(exc)}) from None
    except UNREADABLE:
        raise ValidationFailed("The request body is not valid JSON.") from None


def _decoder(handler: BaseRouteHandler) -> msgspec.json.Decoder[Any]:
    field = handler.parsed_data_field
    kind = Any if field is None else field.annotation
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    return decoder


class StrictRequest(Request[Any, Any, Any]):
    """A request whose JSON body is decoded strictly into the route's `data` type, once."""

    async def json(self) -> Any:
        state = self.scope.get("state", {})
        if _DECODED in state:
            return state[_DECODED]
        return strict_decode(_decoder(self.route_handler), await self.body())
