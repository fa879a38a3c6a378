"""OpenAI's message items, both ways (SPEC §14): input items as the core's messages, and thread
messages (or a response's context) as items.

Only messages carry over: `{"role", "content"}` with `content` a string or a list of text parts
(`input_text`, `output_text`, `text`), the `type: "message"`, `id`, `status` and `phase` that an
output item sent back carries included. Any other item type (function calls and their outputs,
reasoning, item references ...) and any other content type (images, files, audio ...) is refused
with 400 `UNSUPPORTED_PARAMETER` naming where it is; a malformed message is 422 with its path.
`developer` is the gateway's `system`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from gateway import errors
from gateway.core.records import MessageRecord
from gateway.doors.openai.objects import InputText, MessageItem, OutputText
from gateway.doors.openai.schemas import RawItem
from providers.base import ChatMessage

_ROLES: dict[str, Literal["user", "assistant", "system"]] = {
    "user": "user",
    "assistant": "assistant",
    "system": "system",
    "developer": "system",
}
_TEXT_PARTS = frozenset({"input_text", "output_text", "text"})
MAX_PARTS = 256


class TextPartIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    type: Literal["input_text", "output_text", "text"]
    text: str
    # What an output item sent back carries with its text; nothing of it is used.
    annotations: list[Any] | None = None
    logprobs: list[Any] | None = None


class MessageIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    role: Literal["user", "assistant", "system", "developer"]
    content: str | Annotated[list[RawItem], Meta(max_length=MAX_PARTS)]
    type: Literal["message"] | None = None
    id: Annotated[str, Meta(max_length=128)] | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None
    phase: Literal["commentary", "final_answer"] | None = None


class UnsupportedItem(errors.UnsupportedParameter):
    def __init__(self, where: str, what: str) -> None:
        errors.BadRequest.__init__(
            self, f"`{where}`: {what} is not supported by this gateway.", details={"parameter": where}
        )


def _convert[T](raw: object, kind: type[T], where: str) -> T:
    try:
        return msgspec.convert(raw, kind)
    except msgspec.ValidationError as exc:
        # msgspec names the place within the item: "... - at `$.content[0]`".
        reason, _, at = str(exc).partition(" - at `$")
        param = where + at.rstrip("`")
        raise errors.ValidationFailed(f"`{param}`: {reason}", details={"parameter": param}) from None


def _kind(raw: RawItem) -> object:
    return raw.get("type")


def _texts(content: str | list[RawItem], where: str) -> tuple[str, ...]:
    if isinstance(content, str):
        return (content,)
    if not content:
        raise errors.ValidationFailed(f"`{where}.content` must not be empty.", details={"parameter": where})
    texts: list[str] = []
    for j, raw in enumerate(content):
        at = f"{where}.content[{j}]"
        kind = _kind(raw)
        if kind not in _TEXT_PARTS:
            raise UnsupportedItem(
                at, f"content of type {kind!r}" if isinstance(kind, str) else "this content"
            )
        texts.append(_convert(raw, TextPartIn, at).text)
    return tuple(texts)


def chat_messages(items: str | Sequence[RawItem], where: str) -> tuple[ChatMessage, ...]:
    """The messages of `input` (a string is one user message) or of a list of items."""
    if isinstance(items, str):
        return (ChatMessage("user", (items,)),)
    out: list[ChatMessage] = []
    for i, raw in enumerate(items):
        at = f"{where}[{i}]"
        kind = _kind(raw)
        if kind not in (None, "message"):
            raise UnsupportedItem(at, f"an item of type {kind!r}" if isinstance(kind, str) else "this item")
        item = _convert(raw, MessageIn, at)
        out.append(ChatMessage(_ROLES[item.role], _texts(item.content, at)))
    return tuple(out)


def message_item(item_id: str, role: str, texts: Sequence[str]) -> MessageItem:
    """A message as an item: assistant text as `output_text`, any other as `input_text`."""
    content: list[InputText | OutputText]
    if role == "assistant":
        content = [OutputText(text=t) for t in texts]
        return MessageItem(id=item_id, role="assistant", content=content)
    content = [InputText(text=t) for t in texts]
    return MessageItem(id=item_id, role="system" if role == "system" else "user", content=content)


def record_item(m: MessageRecord) -> MessageItem:
    return message_item(m.id, m.role, m.texts)


def context_item_id(response_id: str, index: int) -> str:
    """The id of a response's `index`th input item: its context stores messages, not their ids."""
    return f"msg_{response_id.removeprefix('resp_')}_{index}"


def context_index(response_id: str, item_id: str) -> int | None:
    """The position `context_item_id` names, or None when it names no input item of this response."""
    prefix = f"msg_{response_id.removeprefix('resp_')}_"
    tail = item_id.removeprefix(prefix)
    if tail == item_id or not tail.isdigit() or len(tail) > 9:
        return None
    return int(tail)
