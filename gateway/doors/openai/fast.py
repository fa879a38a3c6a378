"""The fast path of `POST /v1/responses`: the everyday, non-streamed response as plain ASGI in front
of Litestar, as the Freddy door has one for its turn (see `gateway.http.asgi`).

Only a well-formed JSON body with a valid key, no query string and no `stream: true` is taken;
anything else (a bad key or body, a body over the limit, a stream, a query string) is handed to the
framework route unchanged, the body already read given back, so every error and every stream comes
from the one route. Both share the turn (`TurnEdge`), the key check, the envelope and the log line.
"""

from __future__ import annotations

import msgspec

from gateway.doors.openai.schemas import OpenAIResponseCreate
from gateway.doors.openai.turn import TurnEdge
from gateway.http.auth import KeyRing
from gateway.http.fastpath import FastRoute

PATH = "/v1/responses"

type FastResponses = FastRoute[OpenAIResponseCreate]


def fast_route(edge: TurnEdge, *, keyring: KeyRing, max_body_bytes: int) -> FastResponses:
    """The door's fast path for `/v1/responses` (see `gateway.http.fastpath.FastRoute`)."""
    decode = msgspec.json.Decoder(OpenAIResponseCreate).decode
    return FastRoute(PATH, decode, edge, keyring=keyring, max_body_bytes=max_body_bytes)
