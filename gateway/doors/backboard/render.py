"""Records to the Backboard door's wire objects (SPEC §13)."""

from __future__ import annotations

from gateway.core.records import AssistantRecord, MessageRecord, ResponseRecord, ThreadRecord
from gateway.doors.backboard.ids import message_uuid
from gateway.doors.backboard.objects import (
    BackboardAnswer,
    BackboardAssistant,
    BackboardContextUsage,
    BackboardMessage,
    BackboardThread,
)
from gateway.errors import ValidationFailed
from gateway.times import iso

# Backboard's status of a message the model finished; a stream its client cancelled, whose
# partial answer was kept, is "CANCELLED".
_STATUS = {"completed": "COMPLETED", "cancelled": "CANCELLED"}


def message_answer(
    r: ResponseRecord, provider: str, model_name: str, usage: BackboardContextUsage | None
) -> BackboardAnswer:
    assert r.thread_id is not None, "a Backboard turn is always a thread's"
    at = iso(r.created_us)
    return BackboardAnswer(
        message="Message added successfully",
        thread_id=r.thread_id,
        assistant_id=r.assistant_id,
        message_id=message_uuid(r.output_message_id),
        content=r.output_text,
        status=_STATUS.get(r.status, r.status.upper()),
        memory_operation_id=r.memory_operation_id,
        retrieved_memories=list(r.retrieved_memories) or None,
        model_provider=provider,
        model_name=model_name,
        input_tokens=r.usage.input_tokens,
        output_tokens=r.usage.output_tokens,
        total_tokens=r.usage.input_tokens + r.usage.output_tokens,
        created_at=at,
        timestamp=at,
        context_usage=usage,
    )


def message_object(m: MessageRecord) -> BackboardMessage:
    return BackboardMessage(
        message_id=message_uuid(m.id),
        role=m.role,
        content="\n".join(m.texts),
        created_at=iso(m.created_us),
        metadata_=m.metadata or None,
    )


def thread_object(t: ThreadRecord, messages: list[MessageRecord] | None = None) -> BackboardThread:
    return BackboardThread(
        thread_id=t.id,
        assistant_id=t.assistant_id,
        created_at=iso(t.created_us),
        messages=[message_object(m) for m in messages or ()],
        metadata_=t.metadata or None,
    )


def gateway_model(provider: str | None, model_name: str | None) -> str | None:
    """Backboard's provider and model as the gateway's model name (`openai` + `gpt-4o` ->
    `openai/gpt-4o`, routed by the one registry); a model name alone routes by its family."""
    if provider is None:
        return model_name
    if model_name is None:
        raise ValidationFailed("`llm_provider` needs a `model_name`.")
    return f"{provider.strip().lower()}/{model_name}"


def split_model(model: str | None) -> tuple[str | None, str | None]:
    """The gateway's model name as Backboard's provider and model (`openai/gpt-4o` -> `openai`,
    `gpt-4o`); a bare name has no provider."""
    if model is None:
        return None, None
    provider, sep, name = model.partition("/")
    return (provider, name) if sep else (None, model)


def assistant_object(a: AssistantRecord) -> BackboardAssistant:
    provider, name = split_model(a.model)
    return BackboardAssistant(
        assistant_id=a.id,
        name=a.name,
        description=a.description,
        system_prompt=a.instructions,
        llm_provider=provider,
        model_name=name,
        created_at=iso(a.created_us),
        updated_at=iso(a.updated_us),
    )
