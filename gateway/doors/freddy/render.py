"""Records to wire objects (SPEC §3, §4.1)."""

from __future__ import annotations

from gateway.core.records import MessageRecord, Page, ResponseRecord, ThreadRecord
from gateway.doors.freddy.schemas import (
    ListObject,
    MessageList,
    MessageObject,
    OutputItem,
    ResponseObject,
    ResponseUsage,
    TextOut,
    ThreadList,
    ThreadObject,
    ThreadUsage,
    iso,
)


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
    )


def message_object(m: MessageRecord) -> MessageObject:
    return MessageObject(
        id=m.id,
        thread_id=m.thread_id,
        role=m.role,
        texts=[TextOut(t) for t in m.texts],
        response_id=m.response_id,
        created_at=iso(m.created_us),
    )


def response_object(r: ResponseRecord) -> ResponseObject:
    return ResponseObject(
        id=r.id,
        created_at=iso(r.created_us),
        status="completed",
        model=r.model,
        thread_id=r.thread_id,
        previous_response_id=r.previous_response_id,
        output=[OutputItem(id=r.output_message_id, texts=[TextOut(r.output_text)])],
        output_text=r.output_text,
        usage=ResponseUsage(
            input_tokens=r.usage.input_tokens,
            output_tokens=r.usage.output_tokens,
            total_tokens=r.usage.input_tokens + r.usage.output_tokens,
        ),
    )


def in_progress_object(
    response_id: str, created_us: int, model: str, thread_id: str | None, previous_response_id: str | None
) -> ResponseObject:
    return ResponseObject(
        id=response_id,
        created_at=iso(created_us),
        status="in_progress",
        model=model,
        thread_id=thread_id,
        previous_response_id=previous_response_id,
        output=[],
        output_text="",
        usage=None,
    )


def thread_list(page: Page[ThreadRecord]) -> ThreadList:
    return _list([thread_object(t) for t in page.items], page.has_more)


def message_list(page: Page[MessageRecord]) -> MessageList:
    return _list([message_object(m) for m in page.items], page.has_more)


def _list[T: (ThreadObject, MessageObject)](data: list[T], has_more: bool) -> ListObject[T]:
    return ListObject(
        data=data,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
        has_more=has_more,
    )
