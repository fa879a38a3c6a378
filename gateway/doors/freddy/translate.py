"""A Freddy turn request as the core's `TurnRequest` (SPEC §3, §10): its aliases resolved, its
conflicts refused, its unimplemented fields checked."""

from __future__ import annotations

from gateway import errors
from gateway.core.requests import ChainTarget, ThreadTarget, TurnRequest
from gateway.doors.freddy.schemas import ResponseRequest, ThreadRef
from gateway.doors.freddy.unsupported import refuse_unsupported
from providers.base import ChatMessage

UNSUPPORTED = (
    "tools",
    "system_tools",
    "files",
    "vector_store_ids",
    "space_id",
    "workflow_id",
    "reasoning",
    "include",
    "output_mode",
    "disable_rules",
    "edit_message_id",
    "previous_message_id",
    "metadata",
    "response_format",
)
# How a field is named in its error: as the client sent it.
_WIRE_NAMES = {"response_format": "responseFormat"}


def one_of[T](values: dict[str, T | None], what: str) -> T | None:
    """The one value that the given names (aliases of one field) carry; 400 when they differ."""
    given = {name: v for name, v in values.items() if v is not None}
    if len(set(map(repr, given.values()))) > 1:
        names = " and ".join(f"`{n}`" for n in given)
        raise errors.ConflictingParameters(f"{names} name different {what}.")
    return next(iter(given.values()), None)


def organization_claim(req: ResponseRequest) -> str | None:
    return one_of(
        {"organization_id": req.organization_id, "organizationId": req.organization_id_camel}, "organizations"
    )


def to_turn(req: ResponseRequest) -> TurnRequest:
    """The request as the core's turn, after the conflict rules of SPEC §3."""
    refuse_unsupported(req, UNSUPPORTED, _WIRE_NAMES)
    ref = req.thread if isinstance(req.thread, ThreadRef) else None
    named = ref.id if ref is not None else req.thread if isinstance(req.thread, str) else None
    thread_id = one_of(
        {"thread": named, "thread_id": req.thread_id, "threadId": req.thread_id_camel}, "threads"
    )
    previous = one_of(
        {
            "previousResponseId": req.previous_response_id,
            "previous_response_id": req.previous_response_id_snake,
        },
        "responses",
    )
    max_tokens = one_of(
        {
            "max_output_tokens": req.max_output_tokens,
            "maxTokens": req.max_tokens_camel,
            "max_output_synapses": req.max_output_synapses,
        },
        "limits",
    )
    assistant_id = one_of(
        {"assistant_id": req.assistant_id, "assistantId": req.assistant_id_camel}, "assistants"
    )
    if req.model is None and assistant_id is None and thread_id is None:
        # Only an assistant, the request's or its thread's, may give the model (SPEC §3, §11).
        raise errors.ValidationFailed(
            "`model` is required unless `assistant_id` or a thread names an assistant that gives one.",
            details={"field": "model"},
        )
    target: ThreadTarget | ChainTarget
    if previous is not None:
        if thread_id is not None or req.thread_state is not None:
            raise errors.ConflictingParameters(
                "`previousResponseId` cannot be combined with `thread`, `thread_id` or `threadState`."
            )
        target = ChainTarget(response_id=previous)
    else:
        target = ThreadTarget(
            id=thread_id,
            metadata=ref.metadata if ref is not None else None,
            visible=req.store,
            state_after=req.thread_state,
        )
    return TurnRequest(
        model=req.model,
        inputs=tuple(ChatMessage(i.role, i.text_values()) for i in req.inputs),
        target=target,
        assistant_id=assistant_id,
        instructions=req.instructions,
        temperature=req.temperature,
        top_p=req.top_p,
        max_output_tokens=max_tokens,
        memory=req.memory,
        user=req.user,
    )
