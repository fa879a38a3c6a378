"""The fast path of `POST /v1/model/response`: the hot route as plain ASGI, in front of Litestar.

Through the framework, a turn pays for routing, the middleware and guard stack, dependency
injection, a strict decode of the body (`gateway.api.body`), a second, lenient decode into the
handler's `data`, and the response machinery: about a fifth of a turn's CPU. Here the body is read
and decoded once (strictly), the key checked, and the turn answered with one msgspec encode.

Only the everyday case is taken: a well-formed JSON turn with a valid key, no query string, not
streamed. Anything else (a bad key, a bad body, a body over the limit, another organization named,
`stream: true`, a query string) is handed to the Litestar route unchanged, with the body already
read replayed, so every error and every streamed answer comes from the one framework route; both
paths share the turn logic, the key check, the error envelope and the request log. The framework
route stays registered: it is what the OpenAPI document describes.
"""

from __future__ import annotations

import msgspec

from gateway.doors.freddy.schemas import ResponseRequest
from gateway.doors.freddy.turn import TurnEdge
from gateway.http.auth import KeyRing
from gateway.http.fastpath import FastRoute

PATH = "/v1/model/response"

type FastTurns = FastRoute[ResponseRequest]


def fast_route(edge: TurnEdge, *, keyring: KeyRing, max_body_bytes: int) -> FastTurns:
    """The door's fast path for `/v1/model/response` (see `gateway.http.fastpath.FastRoute`)."""
    decode = msgspec.json.Decoder(ResponseRequest).decode
    return FastRoute(PATH, decode, edge, keyring=keyring, max_body_bytes=max_body_bytes)
