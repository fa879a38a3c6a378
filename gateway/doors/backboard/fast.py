"""The fast path of `POST /api/threads/messages` with a JSON body (backboard-sdk's `send_message`):
the everyday, non-streamed turn as plain ASGI in front of Litestar, as the other doors have one for
their turn (see `gateway.http.asgi`).

Only a JSON body (by its `Content-Type`, or none named) that decodes strictly, with a valid key,
no query string and no `stream: true`, is taken; a form, a multipart body, a bad key or body, a
body over the limit, a stream or a query string is handed to the framework route unchanged, the body
already read given back, so every error and every stream comes from the one route. Both share the
turn (`TurnEdge.whole`), the key check, the `detail` envelope and the log line.
"""

from __future__ import annotations

from gateway.doors.backboard.forms import JSON_BODY
from gateway.doors.backboard.schemas import BackboardMessageBody
from gateway.doors.backboard.turn import TurnEdge
from gateway.http.auth import KeyRing
from gateway.http.fastpath import FastRoute

PATH = "/api/threads/messages"

type FastMessages = FastRoute[BackboardMessageBody]


class _Whole:
    """`TurnEdge` as a fast path's edge: the whole answer, and the door's error envelope."""

    def __init__(self, edge: TurnEdge) -> None:
        self.answer = edge.whole
        self.error = edge.error


def fast_route(edge: TurnEdge, *, keyring: KeyRing, max_body_bytes: int) -> FastMessages:
    """The door's fast path for `/api/threads/messages` (see `gateway.http.fastpath.FastRoute`)."""
    return FastRoute(
        PATH, JSON_BODY.decode, _Whole(edge), keyring=keyring, max_body_bytes=max_body_bytes, json_only=True
    )
