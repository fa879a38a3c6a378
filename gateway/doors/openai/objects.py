"""The OpenAI door's answers (SPEC §14): OpenAI's response, item, conversation and list objects, as
the `openai` SDK parses them and as the Open Responses specification's `ResponseResource` requires
(every one of its required fields is present, at OpenAI's values when the gateway has none)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

Status = Literal["completed", "in_progress", "failed", "cancelled", "incomplete"]
ItemStatus = Literal["completed", "in_progress", "incomplete"]


class InputText(msgspec.Struct, frozen=True, tag_field="type", tag="input_text"):
    text: str


class OutputText(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="output_text"):
    text: str
    annotations: list[Any] = msgspec.field(default_factory=list)
    logprobs: list[Any] = msgspec.field(default_factory=list)


class MessageItem(msgspec.Struct, frozen=True, kw_only=True):
    """A message as an item: of a response's `output`, of its input items, of a conversation."""

    id: str
    type: Literal["message"] = "message"
    status: ItemStatus = "completed"
    role: Literal["user", "assistant", "system"]
    content: list[InputText | OutputText]


class InputTokensDetails(msgspec.Struct, frozen=True, kw_only=True):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(msgspec.Struct, frozen=True, kw_only=True):
    reasoning_tokens: int = 0


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    input_tokens: int
    input_tokens_details: InputTokensDetails = InputTokensDetails()
    output_tokens: int
    output_tokens_details: OutputTokensDetails = OutputTokensDetails()
    total_tokens: int


class ResponseError(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    message: str


class TextFormat(msgspec.Struct, frozen=True, kw_only=True):
    type: Literal["text"] = "text"


class TextConfig(msgspec.Struct, frozen=True, kw_only=True):
    format: TextFormat = TextFormat()


class ConversationId(msgspec.Struct, frozen=True, kw_only=True):
    id: str


class ResponseObject(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["response"] = "response"
    created_at: int
    status: Status
    completed_at: int | None
    error: ResponseError | None = None
    incomplete_details: None = None
    instructions: str | None
    max_output_tokens: int | None
    max_tool_calls: None = None
    model: str
    output: list[MessageItem]
    parallel_tool_calls: bool = True
    previous_response_id: str | None
    conversation: ConversationId | None
    reasoning: None = None
    store: bool
    background: bool = False
    temperature: float
    top_p: float
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    top_logprobs: int = 0
    text: TextConfig = TextConfig()
    tool_choice: Literal["auto"] = "auto"
    tools: list[Any] = msgspec.field(default_factory=list)
    truncation: Literal["auto", "disabled"] = "disabled"
    service_tier: str = "default"
    usage: Usage | None
    user: str | None
    safety_identifier: None = None
    prompt_cache_key: None = None
    metadata: dict[str, str]


class DeletedResponse(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["response"] = "response"
    deleted: bool = True


class ConversationObject(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["conversation"] = "conversation"
    created_at: int
    # A thread made by another door may hold any JSON here; OpenAI's are strings.
    metadata: dict[str, Any]


class DeletedConversation(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["conversation.deleted"] = "conversation.deleted"
    deleted: bool = True


class ItemList(msgspec.Struct, frozen=True, kw_only=True):
    """A page of items; `after` = `last_id` walks it. The ids are null on an empty page."""

    object: Literal["list"] = "list"
    data: list[MessageItem]
    first_id: str | None
    last_id: str | None
    has_more: bool


# -- streaming events (each with its `sequence_number`, from 0) ------------------------------------


class ResponseEvent(msgspec.Struct, frozen=True, kw_only=True):
    """`response.created`, `response.in_progress`, `response.completed`, `response.failed`."""

    type: str
    sequence_number: int
    response: ResponseObject


class OutputItemEvent(msgspec.Struct, frozen=True, kw_only=True):
    """`response.output_item.added` and `.done`."""

    type: str
    sequence_number: int
    output_index: int = 0
    item: MessageItem


class ContentPartEvent(msgspec.Struct, frozen=True, kw_only=True):
    """`response.content_part.added` and `.done`."""

    type: str
    sequence_number: int
    item_id: str
    output_index: int = 0
    content_index: int = 0
    part: OutputText


class TextDeltaEvent(msgspec.Struct, frozen=True, kw_only=True):
    type: Literal["response.output_text.delta"] = "response.output_text.delta"
    sequence_number: int
    item_id: str
    output_index: int = 0
    content_index: int = 0
    delta: str
    logprobs: list[Any] = msgspec.field(default_factory=list)


class TextDoneEvent(msgspec.Struct, frozen=True, kw_only=True):
    type: Literal["response.output_text.done"] = "response.output_text.done"
    sequence_number: int
    item_id: str
    output_index: int = 0
    content_index: int = 0
    text: str
    logprobs: list[Any] = msgspec.field(default_factory=list)


Event = ResponseEvent | OutputItemEvent | ContentPartEvent | TextDeltaEvent | TextDoneEvent
