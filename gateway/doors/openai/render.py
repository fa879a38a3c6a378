"""Records to the OpenAI door's objects (SPEC §14)."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from gateway import errors
from gateway.core.prepared import Prepared
from gateway.core.records import MessageRecord, Page, ResponseParams, ResponseRecord, ThreadRecord
from gateway.doors.openai.items import record_item
from gateway.doors.openai.objects import (
    ConversationId,
    ConversationObject,
    ItemList,
    MessageItem,
    OutputText,
    ResponseError,
    ResponseObject,
    Status,
    Usage,
)

_NONE = ResponseParams()
_STATUSES: dict[str, Status] = {"completed": "completed", "cancelled": "cancelled"}


def _seconds(us: int) -> int:
    return us // 1_000_000


def output_item(item_id: str, text: str, *, done: bool = True) -> MessageItem:
    """The one output item of a response: its text as one `output_text` part."""
    if not done:
        return MessageItem(id=item_id, role="assistant", status="in_progress", content=[])
    return MessageItem(id=item_id, role="assistant", content=[OutputText(text=text)])


def _object(
    *,
    response_id: str,
    created_us: int,
    status: Status,
    model: str,
    thread_id: str | None,
    previous_response_id: str | None,
    params: ResponseParams | None,
    store: bool,
    output: list[MessageItem],
    usage: Usage | None,
    error: ResponseError | None = None,
) -> ResponseObject:
    p = params or _NONE
    created = _seconds(created_us)
    return ResponseObject(
        id=response_id,
        created_at=created,
        status=status,
        completed_at=created if status == "completed" else None,
        error=error,
        instructions=p.instructions,
        max_output_tokens=p.max_output_tokens,
        model=model,
        output=output,
        previous_response_id=previous_response_id,
        conversation=ConversationId(id=thread_id) if thread_id is not None else None,
        store=store,
        # OpenAI's defaults when the request set none (the provider's own are not known here).
        temperature=1.0 if p.temperature is None else p.temperature,
        top_p=1.0 if p.top_p is None else p.top_p,
        usage=usage,
        user=p.user,
        metadata=p.metadata,
    )


def response_object(r: ResponseRecord, *, store: bool = True) -> ResponseObject:
    u = r.usage
    return _object(
        response_id=r.id,
        created_us=r.created_us,
        status=_STATUSES.get(r.status, "completed"),
        model=r.model,
        thread_id=r.thread_id,
        previous_response_id=r.previous_response_id,
        params=r.params,
        store=store,
        output=[output_item(r.output_message_id, r.output_text)],
        usage=Usage(
            input_tokens=u.input_tokens,
            output_tokens=u.output_tokens,
            total_tokens=u.input_tokens + u.output_tokens,
        ),
    )


def started_object(p: Prepared) -> ResponseObject:
    """The response of a prepared turn before its model answered (`in_progress`, no output)."""
    return _object(
        response_id=p.response_id,
        created_us=p.created_us,
        status="in_progress",
        model=p.model,
        thread_id=p.thread_id,
        previous_response_id=p.previous_response_id,
        params=p.params,
        store=p.keep,
        output=[],
        usage=None,
    )


def failed_object(p: Prepared, error: errors.GatewayError) -> ResponseObject:
    """A streamed response that failed after it started; nothing of it was kept."""
    code = "rate_limit_exceeded" if error.status == 429 else "server_error"
    error_object = ResponseError(code=code, message=error.message)
    return msgspec.structs.replace(started_object(p), status="failed", error=error_object)


def conversation_object(t: ThreadRecord) -> ConversationObject:
    return ConversationObject(id=t.id, created_at=_seconds(t.created_us), metadata=t.metadata)


def item_list(items: Sequence[MessageItem], has_more: bool) -> ItemList:
    return ItemList(
        data=list(items),
        first_id=items[0].id if items else None,
        last_id=items[-1].id if items else None,
        has_more=has_more,
    )


def message_page(page: Page[MessageRecord]) -> ItemList:
    return item_list([record_item(m) for m in page.items], page.has_more)
