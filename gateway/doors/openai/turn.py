"""The one edge of `POST /v1/responses` (SPEC §14): the OpenAI request as a core turn through the
same `TurnService` as every door's (prepare -> complete | stream: leases, state rules, limits,
idempotency), and the turn's answer as OpenAI's response object or events."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import structlog

from gateway.core.prepared import Prepared
from gateway.core.records import ResponseRecord
from gateway.core.turns import TurnService
from gateway.doors.openai.errors import render_error
from gateway.doors.openai.render import response_object
from gateway.doors.openai.schemas import OpenAIResponseCreate
from gateway.doors.openai.stream import replayed_events, turn_events
from gateway.doors.openai.translate import to_turn
from gateway.errors import GatewayError
from gateway.http.idempotency import fingerprint
from gateway.store.protocols import IdemReplay

_encode = msgspec.json.Encoder().encode
ROUTE = "openai:POST /v1/responses"
REPLAYED = {"Idempotent-Replayed": "true"}


class TurnEdge:
    def __init__(self, turns: TurnService) -> None:
        self._turns = turns

    async def prepare(
        self, org: str, body: OpenAIResponseCreate, key: str | None = None
    ) -> Prepared | ResponseRecord:
        """Checks and context, before the model: errors here are plain JSON, even for a stream.

        With an `Idempotency-Key` whose first request saved its turn: that answer, to send again.
        `store: false` keeps nothing, so its key has no answer to keep and is not claimed.
        """
        structlog.contextvars.bind_contextvars(model=body.model)
        req = to_turn(body)
        claim = None
        if key is not None and req.keep:
            found = await self._turns.claim(org, key, fingerprint(ROUTE, body))
            if isinstance(found, IdemReplay):
                return found.response
            claim = found
        prepared = await self._turns.prepare(org, req, idempotency=claim)
        structlog.contextvars.bind_contextvars(thread_id=prepared.thread_id, model=prepared.model)
        return prepared

    async def answer(
        self, org: str, body: OpenAIResponseCreate, key: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The whole non-streamed turn: the response object as JSON, and extra headers."""
        prepared = await self.prepare(org, body, key)
        if isinstance(prepared, ResponseRecord):
            return _encode(response_object(prepared)), REPLAYED
        record = await self._turns.complete(prepared)
        return _encode(response_object(record, store=prepared.keep)), {}

    def events(self, prepared: Prepared) -> AsyncIterator[bytes]:
        return turn_events(self._turns.stream(prepared), prepared)

    @staticmethod
    def replay_events(record: ResponseRecord) -> AsyncIterator[bytes]:
        return replayed_events(record)

    async def abandon(self, prepared: Prepared) -> None:
        """A prepared turn whose stream never ran: its thread goes to the next turn."""
        await self._turns.abandon(prepared)

    @staticmethod
    def error(exc: Exception, rid: str) -> tuple[GatewayError, bytes]:
        return render_error(exc, rid)
