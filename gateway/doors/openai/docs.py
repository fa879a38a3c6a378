"""What the OpenAI door's routes answer besides their success, for the OpenAPI document."""

from __future__ import annotations

from gateway.doors.openai.errors import OpenAIErrorEnvelope
from gateway.doors.openai.schemas import (
    ConversationCreate,
    ConversationRef,
    ConversationUpdate,
    ItemsCreate,
    OpenAIResponseCreate,
    StreamOptions,
)
from gateway.http.openapi import DoorDocs, Schema

_REF = "#/components/schemas/{name}"
_READ = (401, 403, 404, 422, 500, 503)
# 400 `UNSUPPORTED_PARAMETER`: `include[]` (and `stream` on a retrieve), which the gateway does not serve.
_READ_WITH_OPTIONS = (400, *_READ)
_WRITE = (400, 401, 403, 404, 409, 413, 422, 500, 503)
_RESPONSES = "/v1/responses"
_CONVERSATION = "/v1/conversations/{conversation_id}"


def _finish(schema: Schema) -> None:
    paths = schema["paths"]
    # A response answers JSON, or OpenAI's server-sent events with `stream: true`.
    ok = paths.get(_RESPONSES, {}).get("post", {}).get("responses", {}).get("200")
    if ok is not None:
        ok["description"] = "The response object; OpenAI's server-sent events when `stream` is true"
        ok["content"] = {
            "application/json": {"schema": {"$ref": _REF.format(name="ResponseObject")}},
            "text/event-stream": {"schema": {"type": "string"}},
        }
    # `POST /v1/conversations` may come without a body (an empty conversation).
    body = paths.get("/v1/conversations", {}).get("post", {}).get("requestBody")
    if body is not None:
        body["required"] = False


OPENAI_DOCS = DoorDocs(
    prefix="/v1",
    envelope=OpenAIErrorEnvelope,
    errors={
        ("POST", _RESPONSES): (400, 401, 403, 404, 409, 413, 422, 429, 500, 502, 503, 504),
        ("GET", f"{_RESPONSES}/{{response_id}}"): _READ_WITH_OPTIONS,
        ("DELETE", f"{_RESPONSES}/{{response_id}}"): _READ,
        ("GET", f"{_RESPONSES}/{{response_id}}/input_items"): _READ_WITH_OPTIONS,
        ("POST", "/v1/conversations"): (400, 401, 403, 409, 413, 422, 500, 503),
        ("GET", _CONVERSATION): _READ,
        ("POST", _CONVERSATION): _WRITE,
        ("DELETE", _CONVERSATION): _READ,
        ("GET", f"{_CONVERSATION}/items"): _READ_WITH_OPTIONS,
        ("POST", f"{_CONVERSATION}/items"): _WRITE,
        ("GET", f"{_CONVERSATION}/items/{{item_id}}"): _READ_WITH_OPTIONS,
        ("DELETE", f"{_CONVERSATION}/items/{{item_id}}"): (401, 403, 404, 409, 422, 500, 503),
    },
    strict=(
        OpenAIResponseCreate,
        ConversationRef,
        StreamOptions,
        ConversationCreate,
        ConversationUpdate,
        ItemsCreate,
    ),
    extra=_finish,
)
