"""The one edge of a Backboard turn (SPEC §13): its body as a core `TurnRequest`, and the turn's
answer as the flat message object or as the `data:` events `backboard-sdk` parses.

The same `TurnService` as every door's (prepare -> complete | stream, idempotency, leases, state
rules, limits); this module only decides what Backboard's fields mean:
- `thread_id` names a thread that exists (a UUID of this organization), else 404: Backboard's
  clients do not make threads by naming them. None: a new thread, with a new UUID, under
  `assistant_id`, else under the organization's default assistant (made when first needed).
- `llm_provider` + `model_name` is the model `provider/model`, routed by the one registry; none: the
  assistant's model, else `GATEWAY_DEFAULT_MODEL` (the core decides).
- `system_prompt` is this turn's instructions only; `memory` (`Auto`, `Readonly`, `off`, any case)
  and `user` are the turn's memory mode and scope (SPEC §12, the core decides).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import structlog

from gateway import errors
from gateway.core.calls import Caller
from gateway.core.prepared import Completed, Created, Delta, Failed, Prepared
from gateway.core.records import ResponseRecord
from gateway.core.requests import ThreadTarget, TurnRequest
from gateway.core.services import Services
from gateway.doors.backboard.errors import render_error
from gateway.doors.backboard.ids import assistant_path_id, new_uuid, thread_path_id
from gateway.doors.backboard.objects import BackboardAnswer, BackboardContextUsage
from gateway.doors.backboard.render import gateway_model, message_answer, split_model
from gateway.doors.backboard.schemas import MESSAGE_UNSUPPORTED, BackboardMessageBody
from gateway.doors.backboard.unsupported import refuse_unsupported
from gateway.http.idempotency import fingerprint
from gateway.store.protocols import IdemReplay
from providers.base import ChatMessage

_encode = msgspec.json.Encoder().encode
REPLAYED = {"Idempotent-Replayed": "true"}
ROUTE = "backboard:POST /api/threads/messages"
DEFAULT_ASSISTANT_NAME = "Default assistant"
# An organization's default assistant has the UUID named by its organization in this namespace.
_DEFAULT_NAMESPACE = uuid.UUID("6a1f0c52-3d4b-4e8a-9f07-b1c2d3e4f5a6")


def data(**fields: Any) -> bytes:
    """One event as the SDK reads it: a `data:` line of JSON."""
    return b"data: " + _encode(fields) + b"\n\n"


class Turn(msgspec.Struct, frozen=True, kw_only=True):
    """A turn after its checks: ready to run (`prepared`) or an answer to send again (`replay`)."""

    prepared: Prepared | None = None
    replay: ResponseRecord | None = None
    assistant_id: str | None = None


class TurnEdge:
    def __init__(self, services: Services, caller: Caller) -> None:
        self._services = services
        self._caller = caller

    async def default_assistant(self, org: str) -> str:
        """The organization's default assistant (made now if it has none): its id."""
        aid = str(uuid.uuid5(_DEFAULT_NAMESPACE, org))
        assistants = self._services.assistants
        if await assistants.find(org, aid) is None:
            with contextlib.suppress(errors.AssistantAlreadyExists):  # made by a concurrent turn
                await assistants.create(org, name=DEFAULT_ASSISTANT_NAME, assistant_id=aid)
        return aid

    async def prepare(self, org: str, body: BackboardMessageBody, key: str | None) -> Turn:
        """Every check before the model: errors here are plain `detail` errors, even for a stream."""
        refuse_unsupported(body, MESSAGE_UNSUPPORTED)
        if not body.content:
            raise errors.ValidationFailed("`content` is required: the text of the message.")
        model = gateway_model(body.llm_provider, body.model_name)
        aid = None if body.assistant_id is None else assistant_path_id(body.assistant_id)
        if body.thread_id is not None:
            # Only an existing thread (`must_exist`): a deleted one stays deleted (the core's
            # tombstone), one never made is not made by naming it.
            target = ThreadTarget(id=thread_path_id(body.thread_id), must_exist=True)
        else:
            aid = aid or await self.default_assistant(org)
            target = ThreadTarget(id=new_uuid())
        structlog.contextvars.bind_contextvars(model=model)
        claim = None
        if key is not None:
            found = await self._services.turns.claim(org, key, fingerprint(ROUTE, body))
            if isinstance(found, IdemReplay):
                return Turn(replay=found.response, assistant_id=found.response.assistant_id)
            claim = found
        turn = TurnRequest(
            model=model,
            inputs=(ChatMessage("user", (body.content,)),),
            target=target,
            assistant_id=aid,
            instructions=body.system_prompt or None,
            memory=body.memory,
            user=body.user,
        )
        prepared = await self._services.turns.prepare(org, turn, idempotency=claim)
        structlog.contextvars.bind_contextvars(thread_id=prepared.thread_id)
        # The thread's assistant (the core checked that a named one is it).
        return Turn(prepared=prepared, assistant_id=aid or prepared.assistant_id)

    def answer(self, response: ResponseRecord) -> BackboardAnswer:
        """The flat message object of a saved turn (fresh or replayed alike)."""
        try:
            route = self._caller.routes(response.model)[0]
        except errors.GatewayError:
            # No longer routed (the configuration changed since it was saved): named as saved.
            provider, name = split_model(response.model)
            return message_answer(response, provider or name or "", name or "", None)
        limit = route.provider.context_window(route.model)
        used = response.usage.input_tokens
        usage = BackboardContextUsage(
            percent=round(100 * used / limit, 2) if limit > 0 else 0.0,
            used_tokens=used,
            context_limit=limit,
            summary_tokens=response.summary_tokens,
            model=response.model,
        )
        return message_answer(response, route.provider.name, route.model, usage)

    async def complete(self, prepared: Prepared) -> BackboardAnswer:
        return self.answer(await self._services.turns.complete(prepared))

    async def whole(
        self, org: str, body: BackboardMessageBody, key: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """A turn not streamed, whole: the message object as JSON, and extra headers (a replay's)."""
        turn = await self.prepare(org, body, key)
        if turn.replay is not None:
            return _encode(self.answer(turn.replay)), REPLAYED
        assert turn.prepared is not None
        return _encode(await self.complete(turn.prepared)), {}

    @staticmethod
    def error(exc: Exception, rid: str) -> tuple[errors.GatewayError, bytes]:
        """The error answer of a turn: the door's `detail` envelope."""
        return render_error(exc, rid)

    async def abandon(self, prepared: Prepared) -> None:
        """A prepared turn whose stream never ran: its thread goes to the next turn."""
        await self._services.turns.abandon(prepared)

    def _ended(self, response: ResponseRecord) -> list[bytes]:
        answer = self.answer(response)
        status = "completed" if response.status == "completed" else response.status
        return [
            data(type="message_complete", **msgspec.structs.asdict(answer)),
            data(
                type="run_ended",
                status=status,
                thread_id=answer.thread_id,
                assistant_id=answer.assistant_id,
                message_id=answer.message_id,
            ),
        ]

    async def replay_events(self, response: ResponseRecord) -> AsyncIterator[bytes]:
        """A saved answer sent again as a stream: its text in one delta, then its end."""
        if response.output_text:
            yield data(type="content_streaming", content=response.output_text)
        for event in self._ended(response):
            yield event

    async def events(self, prepared: Prepared, assistant_id: str | None) -> AsyncIterator[bytes]:
        """The stream: `run_started`, each text delta as `content_streaming`, then the message
        (`message_complete`) and `run_ended` with status `completed`; a failure is an `error`
        event (the SDK raises it as `BackboardAPIError`), and nothing is saved then."""
        # Closed with this generator (a client that leaves mid-stream): the turn gives its thread up.
        async with contextlib.aclosing(self._services.turns.stream(prepared)) as stream:
            async for ev in stream:
                match ev:
                    case Created(p):
                        yield data(
                            type="run_started",
                            thread_id=p.thread_id,
                            assistant_id=assistant_id,
                            run_id=p.response_id,
                        )
                    case Delta(text):
                        yield data(type="content_streaming", content=text)
                    case Completed(response):
                        for event in self._ended(response):
                            yield event
                    case Failed(error):
                        yield data(type="error", error=error.message, status=error.status)
