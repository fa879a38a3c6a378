"""A turn as the core receives it from any door: already decoded, aliases resolved, door-neutral."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.core.records import ResponseParams, State
from providers.base import ChatMessage


class ThreadTarget(msgspec.Struct, frozen=True, kw_only=True):
    """Continue (or create) a thread: `id` None makes a new thread with a generated id."""

    id: str | None = None
    # Set when this turn creates the thread; ignored for an existing one.
    metadata: dict[str, Any] | None = None
    visible: bool = True
    # The state the thread takes after this turn is saved.
    state_after: State | None = None
    # The thread must exist already: an id never used is 404 `THREAD_NOT_FOUND`, not a new thread.
    must_exist: bool = False


class ChainTarget(msgspec.Struct, frozen=True, kw_only=True):
    """Continue from a stored response instead of a thread (`previousResponseId`); `response_id`
    None: a response of no thread and no chain, the model seeing only the new inputs."""

    response_id: str | None


class TurnRequest(msgspec.Struct, frozen=True, kw_only=True):
    # None: the assistant's model, else the gateway's default model (SPEC §11, §15).
    model: str | None
    inputs: tuple[ChatMessage, ...]
    target: ThreadTarget | ChainTarget = ThreadTarget()
    # The assistant of the turn (SPEC §11): its instructions come first and its model is the default.
    # A thread this turn creates is bound to it; an existing thread's own assistant must match it
    # (400 `CONFLICTING_PARAMETERS`). None on a thread turn: the thread's assistant, if any.
    assistant_id: str | None = None
    # Memory (SPEC §12): the turn's mode as the client named it (None: its assistant's) and the end
    # user whose memories it reads and writes (None: the assistant-wide ones only).
    memory: str | None = None
    user: str | None = None
    # For this request only: not saved, not part of a later `previousResponseId` context.
    instructions: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_output_tokens: int | None = None
    # False: nothing of the turn is saved (no message, no response): the answer is only returned.
    keep: bool = True
    # Kept with the response to be shown again (see `ResponseParams`); None: nothing kept.
    params: ResponseParams | None = None
