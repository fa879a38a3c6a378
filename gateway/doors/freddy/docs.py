"""What the Freddy door's routes answer besides their success, for the OpenAPI document."""

from __future__ import annotations

from gateway.doors.freddy.assistant_wire import AssistantCreate, AssistantUpdateBody
from gateway.doors.freddy.errors import ErrorEnvelope
from gateway.doors.freddy.memories import MemoryCreate, MemorySearch, MemoryUpdate
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
from gateway.http.openapi import DoorDocs, Schema

_ONE = (401, 403, 404, 422, 500, 503)
# 400 `UNSUPPORTED_PARAMETER`: a Freddy parameter the gateway does not implement, not at its default.
_LIST = (400, 401, 403, 422, 500, 503)
_TURN = "/v1/model/response"
_MEMORIES = "/v1/assistants/{assistant_id}/memories"
# A memory's text is embedded: a provider's embedding model may fail (502), time out (504).
_EMBED = (401, 403, 404, 413, 422, 500, 502, 503, 504)


def _finish(schema: Schema) -> None:
    # An input item has exactly one of `texts` (not empty) and `content`.
    item = schema["components"]["schemas"].get("InputItem")
    if item is not None:
        text_part = {"$ref": "#/components/schemas/TextPart"}
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
            "application/json": {"schema": {"$ref": "#/components/schemas/ResponseObject"}},
            "text/event-stream": {"schema": {"type": "string"}},
        }


FREDDY_DOCS = DoorDocs(
    prefix="/v1",
    envelope=ErrorEnvelope,
    errors={
        ("POST", _TURN): (400, 401, 403, 404, 409, 413, 422, 429, 500, 502, 503, 504),
        ("POST", "/v1/threads"): (400, 401, 403, 404, 409, 413, 422, 500, 503),  # 404: its assistant
        ("GET", "/v1/threads"): _LIST,
        ("GET", "/v1/threads/{thread_id}"): _ONE,
        ("PATCH", "/v1/threads/{thread_id}"): (400, 401, 403, 404, 409, 413, 422, 500, 503),
        ("DELETE", "/v1/threads/{thread_id}"): _ONE,
        ("GET", "/v1/threads/{thread_id}/messages"): (400, *_ONE),
        ("DELETE", "/v1/threads"): (401, 403, 422, 500, 503),
        ("POST", "/v1/model/response/{thread_id}/cancel"): (401, 403, 404, 409, 422, 500, 503),
        ("POST", "/v1/threads/{thread_id}/pin"): _ONE,
        ("POST", "/v1/threads/{thread_id}/unpin"): _ONE,
        ("POST", "/v1/threads/{thread_id}/generateName"): (
            400,
            401,
            403,
            404,
            409,
            422,
            429,
            500,
            502,
            503,
            504,
        ),
        ("PATCH", "/v1/threads/{thread_id}/messages/{message_id}"): (401, 403, 404, 409, 413, 422, 500, 503),
        ("DELETE", "/v1/threads/{thread_id}/messages/{message_id}"): (401, 403, 404, 409, 422, 500, 503),
        ("POST", "/v1/assistants"): (400, 401, 403, 404, 409, 413, 422, 500, 503),
        ("GET", "/v1/assistants"): _LIST,
        ("GET", "/v1/assistants/{assistant_id}"): _ONE,
        ("PUT", "/v1/assistants/{assistant_id}"): (400, 401, 403, 404, 413, 422, 500, 503),
        ("DELETE", "/v1/assistants/{assistant_id}"): _ONE,
        ("GET", _MEMORIES): _ONE,
        ("POST", _MEMORIES): _EMBED,
        ("POST", f"{_MEMORIES}/search"): _EMBED,
        ("GET", f"{_MEMORIES}/{{memory_id}}"): _ONE,
        ("PUT", f"{_MEMORIES}/{{memory_id}}"): _EMBED,
        ("DELETE", f"{_MEMORIES}/{{memory_id}}"): _ONE,
        ("GET", "/v1/memory-operations/{operation_id}"): _ONE,
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
    extra=_finish,
)
