"""An OpenAI `POST /v1/responses` body as the core's `TurnRequest` (SPEC §14).

- `conversation` names a thread that exists (a conversation is a thread; an id never used is 404,
  as OpenAI answers for an unknown conversation): the turn continues it and is appended to it.
- `previous_response_id`: the model sees what that response saw and its output, then the new
  inputs; the new response belongs to no conversation (OpenAI's chaining, over any provider).
- Neither: a response of its own, of no thread (nothing appears in `/v1/threads`).
- `conversation` with `previous_response_id`: 400, as OpenAI answers.
- `store: false` keeps nothing: no response to retrieve or chain from, nothing added to the
  conversation (whose history the model still sees).
"""

from __future__ import annotations

from gateway import errors
from gateway.core.records import ResponseParams
from gateway.core.requests import ChainTarget, ThreadTarget, TurnRequest
from gateway.core.rules import is_valid_thread_id
from gateway.doors.openai.items import chat_messages
from gateway.doors.openai.schemas import ConversationRef, OpenAIResponseCreate
from gateway.doors.openai.unsupported import refuse_unsupported


class MutuallyExclusive(errors.ConflictingParameters):
    def __init__(self) -> None:
        super().__init__(
            "Mutually exclusive parameters: give `previous_response_id` or `conversation`, not both.",
            details={"parameter": "previous_response_id"},
        )


def conversation_id(body: OpenAIResponseCreate) -> str | None:
    ref = body.conversation
    return ref.id if isinstance(ref, ConversationRef) else ref


def to_turn(body: OpenAIResponseCreate) -> TurnRequest:
    """The request as the core's turn, after the rules of SPEC §14."""
    refuse_unsupported(body)
    if body.input is None:
        raise errors.ValidationFailed("`input` is required.", details={"parameter": "input"})
    inputs = chat_messages(body.input, "input")
    conversation = conversation_id(body)
    target: ThreadTarget | ChainTarget
    if conversation is not None:
        if body.previous_response_id is not None:
            raise MutuallyExclusive()
        if not is_valid_thread_id(conversation):
            raise errors.ThreadNotFound(conversation)  # no thread can have this id
        target = ThreadTarget(id=conversation, must_exist=True)
    else:
        target = ChainTarget(response_id=body.previous_response_id)
    return TurnRequest(
        model=body.model,
        inputs=inputs,
        target=target,
        instructions=body.instructions,
        temperature=body.temperature,
        top_p=body.top_p,
        max_output_tokens=body.max_output_tokens,
        # The end user whose memories the turn reads and writes, when its thread's assistant has memory.
        user=body.user or None,
        keep=body.store is not False,
        params=ResponseParams(
            instructions=body.instructions,
            metadata=dict(body.metadata or {}),
            temperature=body.temperature,
            top_p=body.top_p,
            max_output_tokens=body.max_output_tokens,
            user=body.user,
        ),
    )
