"""The one edge of `POST /v1/model/response` (SPEC §3): the Freddy request as a core turn, and the
turn's answer in Freddy's shapes. The framework route and the fast path both go through `TurnEdge`:
the organization check, the log context, prepare -> complete -> render, and the error envelope.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import structlog

from gateway import errors
from gateway.core.prepared import Completed, Created, Delta, Done, Failed, Prepared
from gateway.core.records import ResponseRecord
from gateway.core.turns import TurnService
from gateway.doors.freddy.errors import error_body, render_error
from gateway.doors.freddy.render import in_progress_object, response_object
from gateway.doors.freddy.schemas import ResponseRequest
from gateway.doors.freddy.translate import organization_claim, to_turn
from gateway.http.auth import check_organization
from gateway.http.idempotency import fingerprint
from gateway.store.protocols import IdemReplay

_encode = msgspec.json.Encoder().encode
ROUTE = "freddy:POST /v1/model/response"


def sse(name: str, **fields: Any) -> bytes:
    """One server-sent event: its name, and its data with a `type` equal to the name."""
    return b"event: " + name.encode() + b"\ndata: " + _encode({"type": name, **fields}) + b"\n\n"


REPLAYED = {"Idempotent-Replayed": "true"}
# Freddy's streams end with this line after the last event (SPEC §10), as OpenAI's chat streams do.
DONE = b"data: [DONE]\n\n"


class TurnEdge:
    def __init__(self, turns: TurnService) -> None:
        self._turns = turns

    async def prepare(
        self, org: str, req: ResponseRequest, key: str | None = None
    ) -> Prepared | ResponseRecord:
        """Checks and context, before the model: errors here are plain JSON, even for a stream.

        With an `Idempotency-Key` whose first request saved its turn: that answer, to send again.
        """
        check_organization(organization_claim(req), org)
        structlog.contextvars.bind_contextvars(model=req.model)
        claim = None
        if key is not None:
            found = await self._turns.claim(org, key, fingerprint(ROUTE, req))
            if isinstance(found, IdemReplay):
                return found.response
            claim = found
        prepared = await self._turns.prepare(org, to_turn(req), idempotency=claim)
        structlog.contextvars.bind_contextvars(thread_id=prepared.thread_id, model=prepared.model)
        return prepared

    async def answer(
        self, org: str, req: ResponseRequest, key: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The whole non-streamed turn: the response object as JSON, and extra headers."""
        prepared = await self.prepare(org, req, key)
        if isinstance(prepared, ResponseRecord):
            return _encode(response_object(prepared)), REPLAYED
        return _encode(response_object(await self._turns.complete(prepared))), {}

    async def replay_events(self, response: ResponseRecord) -> AsyncIterator[bytes]:
        """A saved answer sent again as a stream: the events of SPEC §3.3, its text in one delta."""
        obj = response_object(response)
        started = in_progress_object(
            response.id,
            response.created_us,
            response.model,
            response.thread_id,
            response.previous_response_id,
            response.assistant_id,
        )
        yield sse("response.created", response=started)
        if response.output_text:
            yield sse("response.output_text.delta", delta=response.output_text)
        yield sse("response.output_text.done", text=response.output_text)
        yield sse("response.completed", response=obj)
        yield DONE

    @staticmethod
    def error(exc: Exception, rid: str) -> tuple[errors.GatewayError, bytes]:
        """The error answer of a turn (the same envelope as every other Freddy error)."""
        return render_error(exc, rid)

    async def abandon(self, prepared: Prepared) -> None:
        """A prepared turn whose stream never ran: its thread goes to the next turn."""
        await self._turns.abandon(prepared)

    async def events(self, prepared: Prepared, rid: str) -> AsyncIterator[bytes]:
        """The stream of SPEC §3.3, each event encoded."""
        # Closed with this generator (a client that leaves mid-stream): the turn gives its thread up.
        async with contextlib.aclosing(self._turns.stream(prepared)) as events:
            async for ev in events:
                match ev:
                    case Created(p):
                        obj = in_progress_object(
                            p.response_id,
                            p.created_us,
                            p.model,
                            p.thread_id,
                            p.previous_response_id,
                            p.assistant_id,
                        )
                        yield sse("response.created", response=obj)
                    case Delta(text):
                        yield sse("response.output_text.delta", delta=text)
                    case Done(text):
                        yield sse("response.output_text.done", text=text)
                    case Completed(record):
                        yield sse("response.completed", response=response_object(record))
                    case Failed(error):
                        yield sse("response.failed", error=error_body(error, rid))
        yield DONE
