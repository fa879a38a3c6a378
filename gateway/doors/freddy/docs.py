"""What the Freddy door's routes answer besides their success and the rules of every route
(`gateway.http.openapi`), for the OpenAPI document."""

from __future__ import annotations

from gateway.doors.freddy.assistant_wire import AssistantCreate, AssistantUpdateBody
from gateway.doors.freddy.errors import ErrorBody, ErrorEnvelope
from gateway.doors.freddy.memories import MemoryCreate, MemorySearch, MemoryUpdate
from gateway.doors.freddy.objects import ResponseObject
from gateway.doors.freddy.schemas import (
    GenerateNameBody,
    InputItem,
    MessageUpdateBody,
    ResponseRequest,
    TextPart,
    ThreadCreate,
    ThreadRef,
    ThreadUpdateBody,
)
from gateway.http.openapi import CALLS_MODEL, DoorDocs, Schema, component, event, event_stream

_TURN = "/v1/model/response"
_MEMORIES = "/v1/assistants/{assistant_id}/memories"
# 400 `UNSUPPORTED_PARAMETER`: a Freddy parameter the gateway does not implement, not at its default.
_UNSUPPORTED = (400,)
# A memory's text is embedded: a provider's embedding model may fail (502), time out (504).
_EMBED = (502, 504)


def stream_events(schema: Schema) -> Schema:
    """The events of a streamed turn (SPEC §3.3), as `gateway.doors.freddy.turn` sends them."""
    response = component(schema, ResponseObject)
    return event_stream(
        "Server-sent events (SPEC §3.3): each an `event:` line and a `data:` line of JSON whose `type` "
        "is the event's name; after the last, a `data: [DONE]` line. The turn is saved before "
        "`response.completed`; a stream that ends before it saved nothing.",
        [
            ("response.created", "first", event("response.created", {"response": response}, ["response"])),
            (
                "response.output_text.delta",
                "for each chunk of text, as the provider sends it",
                event("response.output_text.delta", {"delta": {"type": "string"}}, ["delta"]),
            ),
            (
                "response.output_text.done",
                "the whole text",
                event("response.output_text.done", {"text": {"type": "string"}}, ["text"]),
            ),
            (
                "response.completed",
                "last: the response object as a whole answer has it",
                event("response.completed", {"response": response}, ["response"]),
            ),
            (
                "response.failed",
                "last, instead: the error as in SPEC §8",
                event("response.failed", {"error": component(schema, ErrorBody)}, ["error"]),
            ),
        ],
    )


def _finish(schema: Schema) -> None:
    # An input item has exactly one of `texts` (not empty) and `content`.
    item = schema["components"]["schemas"].get("InputItem")
    if item is not None:
        text_part = component(schema, TextPart)
        item["oneOf"] = [
            {
                "required": ["texts"],
                "properties": {
                    "texts": {"type": "array", "minItems": 1, "items": text_part},
                    "content": {"type": "null"},
                },
            },
            {
                "required": ["content"],
                "properties": {"content": {"type": "string"}, "texts": {"type": "null"}},
            },
        ]
    # `POST /v1/threads` may come without a body (a thread with a generated id).
    body = schema["paths"].get("/v1/threads", {}).get("post", {}).get("requestBody")
    if body is not None:
        body["required"] = False
    # A turn answers JSON, or server-sent events with `stream: true`.
    ok = schema["paths"].get(_TURN, {}).get("post", {}).get("responses", {}).get("200")
    if ok is not None:
        ok["description"] = "The response object; server-sent events (SPEC §3.3) when `stream` is true"
        ok["content"] = {
            "application/json": {"schema": component(schema, ResponseObject)},
            "text/event-stream": stream_events(schema),
        }


FREDDY_DOCS = DoorDocs(
    prefixes=("/v1",),
    envelope=ErrorEnvelope,
    errors={
        # 404: the thread, the previous response or the model; 409: the thread's state or turn.
        ("POST", _TURN): (*CALLS_MODEL, 404, 409),
        ("POST", "/v1/threads"): (400, 404, 409),  # 404: its assistant
        ("GET", "/v1/threads"): _UNSUPPORTED,
        ("PATCH", "/v1/threads/{thread_id}"): (400, 409),
        ("GET", "/v1/threads/{thread_id}/messages"): _UNSUPPORTED,
        ("POST", "/v1/model/response/{thread_id}/cancel"): (409,),
        ("POST", "/v1/threads/{thread_id}/generateName"): (*CALLS_MODEL, 409),
        ("PATCH", "/v1/threads/{thread_id}/messages/{message_id}"): (409,),
        ("DELETE", "/v1/threads/{thread_id}/messages/{message_id}"): (409,),
        ("POST", "/v1/assistants"): (400, 404, 409),
        ("GET", "/v1/assistants"): _UNSUPPORTED,
        ("PUT", "/v1/assistants/{assistant_id}"): (400,),
        ("POST", _MEMORIES): _EMBED,
        ("POST", f"{_MEMORIES}/search"): _EMBED,
        ("PUT", f"{_MEMORIES}/{{memory_id}}"): _EMBED,
    },
    strict=(
        ResponseRequest,
        InputItem,
        TextPart,
        ThreadRef,
        ThreadCreate,
        ThreadUpdateBody,
        MessageUpdateBody,
        GenerateNameBody,
        AssistantCreate,
        AssistantUpdateBody,
        MemoryCreate,
        MemoryUpdate,
        MemorySearch,
    ),
    idempotent=(("POST", _TURN),),
    extra=_finish,
)
