"""A turn between its checks and its save: what `TurnService.prepare` hands to `complete` or
`stream`, and the events a stream yields (SPEC §3.3)."""

from __future__ import annotations

import msgspec

from gateway import errors
from gateway.core.memory_records import Recall
from gateway.core.records import ResponseParams, ResponseRecord, State, ThreadRecord
from gateway.core.summaries import SummaryUse
from gateway.ids import new_id
from gateway.store.jobs import NewJob
from gateway.store.protocols import IdemClaimed, TurnLease
from providers.base import ChatMessage, ModelRequest
from providers.registry import Route


class Prepared(msgspec.Struct, frozen=True, kw_only=True):
    """A turn checked and assembled, ready for the model."""

    org: str
    model: str
    routes: tuple[Route, ...]
    # Sequence numbers of the thread messages in `context` (a thread turn only).
    history_seqs: tuple[int, ...] = ()
    request: ModelRequest
    inputs: tuple[ChatMessage, ...]
    # What the model sees, without this request's instructions: saved with the response.
    context: tuple[ChatMessage, ...]
    thread_id: str | None
    create: ThreadRecord | None
    thread_state: State | None
    previous_response_id: str | None
    response_id: str
    # What memory adds to the turn (SPEC §12); None: memory is off for it.
    memory: Recall | None = None
    # The thread's summary given before the history (SPEC §12), and background work to enqueue
    # with the turn (a summary job).
    summary: SummaryUse | None = None
    jobs: tuple[NewJob, ...] = ()
    created_us: int
    # The thread's lease, held until the turn is saved or given up (a thread turn only).
    lease: TurnLease | None = None
    # The request's idempotency key, held until the turn is saved (and keeps its answer) or failed.
    idempotency: IdemClaimed | None = None
    # The assistant whose profile the turn has (SPEC §11).
    assistant_id: str | None = None
    # The id its output message will have, known before the model answers (a stream names it first).
    output_message_id: str = msgspec.field(default_factory=lambda: new_id("msg"))
    # False: nothing is saved (`TurnRequest.keep`).
    keep: bool = True
    params: ResponseParams | None = None
    # The end user the turn is for (SPEC §12): the request's, else its thread's or its previous
    # response's; kept with the response so that a chain from it keeps the scope.
    user: str | None = None


class Created(msgspec.Struct, frozen=True):
    prepared: Prepared


class Delta(msgspec.Struct, frozen=True):
    text: str


class Done(msgspec.Struct, frozen=True):
    text: str


class Completed(msgspec.Struct, frozen=True):
    response: ResponseRecord


class Failed(msgspec.Struct, frozen=True):
    error: errors.GatewayError


StreamEvent = Created | Delta | Done | Completed | Failed
