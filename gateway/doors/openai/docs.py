"""What the OpenAI door's routes answer besides their success and the rules of every route
(`gateway.http.openapi`), for the OpenAPI document."""

from __future__ import annotations

from gateway.doors.openai.door import PREFIXES
from gateway.doors.openai.errors import OpenAIErrorEnvelope
from gateway.doors.openai.objects import MessageItem, OutputText, ResponseObject
from gateway.doors.openai.schemas import (
    ConversationCreate,
    ConversationRef,
    ConversationUpdate,
    ItemsCreate,
    OpenAIResponseCreate,
    StreamOptions,
)
from gateway.http.openapi import CALLS_MODEL, DoorDocs, Schema, component, event, event_stream

# 400 `UNSUPPORTED_PARAMETER`: `include[]` (and `stream` on a retrieve), which the gateway does not serve.
_WITH_OPTIONS = (400,)
_WRITE = (400, 409)
_RESPONSES = "/v1/responses"
_CONVERSATION = "/v1/conversations/{conversation_id}"
_INT = {"type": "integer"}
_STR = {"type": "string"}


def stream_events(schema: Schema) -> Schema:
    """OpenAI's events of a streamed response (SPEC §14), as `gateway.doors.openai.stream` sends
    them, numbered by `sequence_number` from 0."""
    response = {"sequence_number": _INT, "response": component(schema, ResponseObject)}
    item = {"sequence_number": _INT, "output_index": _INT, "item": component(schema, MessageItem)}
    at = {"sequence_number": _INT, "item_id": _STR, "output_index": _INT, "content_index": _INT}
    part = {**at, "part": component(schema, OutputText)}
    text = {**at, "logprobs": {"type": "array", "items": {}}}
    numbered = ["sequence_number"]

    def lifecycle(name: str) -> Schema:
        return event(name, response, [*numbered, "response"])

    return event_stream(
        "OpenAI's server-sent events, in OpenAI's order: each an `event:` line and a `data:` line of "
        "JSON whose `type` is the event's name. The turn is saved before `response.completed`.",
        [
            ("response.created", "first (status `in_progress`)", lifecycle("response.created")),
            ("response.in_progress", "second", lifecycle("response.in_progress")),
            (
                "response.output_item.added",
                "the answer's message item, still empty",
                event("response.output_item.added", item, [*numbered, "item"]),
            ),
            (
                "response.content_part.added",
                "its text part, still empty",
                event("response.content_part.added", part, [*numbered, "item_id", "part"]),
            ),
            (
                "response.output_text.delta",
                "for each chunk of text, as the provider sends it",
                event(
                    "response.output_text.delta",
                    {**text, "delta": _STR},
                    [*numbered, "item_id", "delta"],
                ),
            ),
            (
                "response.output_text.done",
                "the whole text",
                event("response.output_text.done", {**text, "text": _STR}, [*numbered, "item_id", "text"]),
            ),
            (
                "response.content_part.done",
                "the text part, whole",
                event("response.content_part.done", part, [*numbered, "item_id", "part"]),
            ),
            (
                "response.output_item.done",
                "the message item, whole",
                event("response.output_item.done", item, [*numbered, "item"]),
            ),
            ("response.completed", "last: the response object", lifecycle("response.completed")),
            (
                "response.failed",
                "last, instead, after any of the above: the response with its `error`",
                lifecycle("response.failed"),
            ),
        ],
    )


def _finish(schema: Schema) -> None:
    paths = schema["paths"]
    # A response answers JSON, or OpenAI's server-sent events with `stream: true`.
    ok = paths.get(_RESPONSES, {}).get("post", {}).get("responses", {}).get("200")
    if ok is not None:
        ok["description"] = "The response object; OpenAI's server-sent events when `stream` is true"
        ok["content"] = {
            "application/json": {"schema": component(schema, ResponseObject)},
            "text/event-stream": stream_events(schema),
        }
    # `POST /v1/conversations` may come without a body (an empty conversation).
    body = paths.get("/v1/conversations", {}).get("post", {}).get("requestBody")
    if body is not None:
        body["required"] = False


OPENAI_DOCS = DoorDocs(
    prefixes=PREFIXES,
    envelope=OpenAIErrorEnvelope,
    errors={
        # 404: the previous response, the conversation or the model; 409: the conversation's state.
        ("POST", _RESPONSES): (*CALLS_MODEL, 404, 409),
        ("GET", f"{_RESPONSES}/{{response_id}}"): _WITH_OPTIONS,
        ("GET", f"{_RESPONSES}/{{response_id}}/input_items"): _WITH_OPTIONS,
        ("POST", "/v1/conversations"): _WRITE,
        ("POST", _CONVERSATION): _WRITE,
        ("GET", f"{_CONVERSATION}/items"): _WITH_OPTIONS,
        ("POST", f"{_CONVERSATION}/items"): _WRITE,
        ("GET", f"{_CONVERSATION}/items/{{item_id}}"): _WITH_OPTIONS,
        ("DELETE", f"{_CONVERSATION}/items/{{item_id}}"): (409,),
    },
    strict=(
        OpenAIResponseCreate,
        ConversationRef,
        StreamOptions,
        ConversationCreate,
        ConversationUpdate,
        ItemsCreate,
    ),
    idempotent=(("POST", _RESPONSES),),
    extra=_finish,
)
