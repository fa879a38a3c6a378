"""Records to the Freddy door's wire objects (SPEC §3, §4.1, §10)."""

from __future__ import annotations

import msgspec

from gateway.core.records import MessageRecord, Page, ResponseRecord, ThreadRecord
from gateway.doors.freddy.objects import (
    ContextUsage,
    ListObject,
    MessageList,
    MessageObject,
    OutputItem,
    OutputText,
    PinnedThread,
    ResponseObject,
    ResponseUsage,
    TextOut,
    ThreadList,
    ThreadObject,
    ThreadUsage,
)
from gateway.times import iso


def thread_object(t: ThreadRecord) -> ThreadObject:
    return ThreadObject(
        id=t.id,
        organization_id=t.org,
        state=t.state,
        visible_in_ui=t.visible,
        metadata=t.metadata,
        message_count=t.message_count,
        usage=ThreadUsage(input_tokens=t.input_tokens, output_tokens=t.output_tokens),
        created_at=iso(t.created_us),
        updated_at=iso(t.updated_us),
        last_message_at=None if t.last_message_us is None else iso(t.last_message_us),
        expires_at=iso(t.expires_us),
        title=t.title,
        is_pinned=t.pinned_us is not None,
        pinned_at=None if t.pinned_us is None else iso(t.pinned_us),
        last_model_used=t.last_model,
        assistant_id=t.assistant_id,
        user=t.user,
    )


def pinned_object(t: ThreadRecord, message: str) -> PinnedThread:
    return PinnedThread(**msgspec.structs.asdict(thread_object(t)), message=message)


def message_object(m: MessageRecord) -> MessageObject:
    return MessageObject(
        id=m.id,
        thread_id=m.thread_id,
        role=m.role,
        texts=[TextOut(t) for t in m.texts],
        content="\n".join(m.texts),
        metadata=m.metadata,
        response_id=m.response_id,
        created_at=iso(m.created_us),
    )


def _object(
    r_id: str,
    created_us: int,
    status: str,
    model: str,
    thread_id: str | None,
    previous_response_id: str | None,
    output: list[OutputItem],
    text: str,
    usage: ResponseUsage | None,
    assistant_id: str | None,
) -> ResponseObject:
    return ResponseObject(
        id=r_id,
        created_at=iso(created_us),
        created_at_unix=created_us // 1_000_000,
        status=status,
        model=model,
        thread_id=thread_id,
        previous_response_id=previous_response_id,
        output=output,
        output_text=text,
        usage=usage,
        response=text,
        response_id=r_id,
        assistant_id=assistant_id,
    )


def response_object(r: ResponseRecord) -> ResponseObject:
    item = OutputItem(
        id=r.output_message_id, texts=[TextOut(r.output_text)], content=[OutputText(text=r.output_text)]
    )
    usage = ResponseUsage(
        input_tokens=r.usage.input_tokens,
        output_tokens=r.usage.output_tokens,
        total_tokens=r.usage.input_tokens + r.usage.output_tokens,
    )
    answer = _object(
        r.id,
        r.created_us,
        r.status,
        r.model,
        r.thread_id,
        r.previous_response_id,
        [item],
        r.output_text,
        usage,
        r.assistant_id,
    )
    extra: dict[str, object] = {"is_summarized": r.summary is not None, "context_usage": context_usage(r)}
    if r.memory_operation_id is not None or r.retrieved_memories:
        extra |= {
            "memory_operation_id": r.memory_operation_id,
            "retrieved_memories": list(r.retrieved_memories),
        }
    return msgspec.structs.replace(answer, **extra)


def context_usage(r: ResponseRecord) -> ContextUsage | msgspec.UnsetType:
    """The turn's `context_usage` (SPEC §12); left out for a record that does not know its window."""
    limit, used = r.context_limit, r.usage.input_tokens
    if limit <= 0:
        return msgspec.UNSET
    return ContextUsage(
        percent=round(100 * used / limit, 2),
        used_tokens=used,
        context_limit=limit,
        summary_tokens=r.summary_tokens,
        model=r.model,
    )


def in_progress_object(
    response_id: str,
    created_us: int,
    model: str,
    thread_id: str | None,
    previous_response_id: str | None,
    assistant_id: str | None = None,
) -> ResponseObject:
    return _object(
        response_id,
        created_us,
        "in_progress",
        model,
        thread_id,
        previous_response_id,
        [],
        "",
        None,
        assistant_id,
    )


def thread_list(page: Page[ThreadRecord], limit: int) -> ThreadList:
    return _list([thread_object(t) for t in page.items], page, limit)


def message_list(page: Page[MessageRecord], limit: int) -> MessageList:
    return _list([message_object(m) for m in page.items], page, limit)


def _list[T: (ThreadObject, MessageObject)](
    data: list[T], page: Page[ThreadRecord] | Page[MessageRecord], limit: int
) -> ListObject[T]:
    return ListObject(
        data=data,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
        has_more=page.has_more,
        limit=limit,
        total=msgspec.UNSET if page.total is None else page.total,
    )
