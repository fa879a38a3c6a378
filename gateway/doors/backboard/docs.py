"""What the Backboard door's routes answer besides their success, for the OpenAPI document."""

from __future__ import annotations

import msgspec

from gateway.doors.backboard.errors import BackboardError
from gateway.doors.backboard.memories import MemoryBody, SearchBody
from gateway.doors.backboard.schemas import (
    BackboardAssistantCreate,
    BackboardAssistantUpdate,
    BackboardMessageBody,
    BackboardThreadCreate,
)
from gateway.http.openapi import DoorDocs, Schema

_REF = "#/components/schemas/{name}"
_TURN = (400, 401, 403, 404, 409, 413, 422, 429, 500, 502, 503, 504)
_ONE = (401, 403, 404, 422, 500, 503)
_LIST = (401, 403, 422, 500, 503)
_WRITE = (400, 401, 403, 404, 409, 413, 422, 500, 503)
_SEND = "/api/threads/messages"
_ADD = "/api/threads/{thread_id}/messages"
_MEMORIES = "/api/assistants/{assistant_id}/memories"
# A memory's text is embedded: a provider's embedding model may fail (502), time out (504).
_EMBED = (401, 403, 404, 413, 422, 500, 502, 503, 504)


def _finish(schema: Schema) -> None:
    """The turn routes read JSON, form or multipart bodies themselves (one route, three media
    types) and answer JSON or, with `stream`, server-sent events."""
    _, defs = msgspec.json.schema_components([BackboardMessageBody], ref_template=_REF)
    schema["components"]["schemas"].update(defs)
    body = {"$ref": _REF.format(name="BackboardMessageBody")}
    defs["BackboardMessageBody"]["additionalProperties"] = False
    for path in (_SEND, _ADD):
        operation = schema["paths"].get(path, {}).get("post")
        if operation is None:
            continue
        operation["requestBody"] = {
            "required": True,
            "content": {
                media: {"schema": body}
                for media in ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
            },
        }
        ok = operation.get("responses", {}).get("200")
        if ok is not None:
            ok["description"] = "The flat message object; `data:` events when `stream` is true"
            ok["content"] = {
                "application/json": {"schema": {"$ref": _REF.format(name="BackboardAnswer")}},
                "text/event-stream": {"schema": {"type": "string"}},
            }
    # `POST /api/assistants/{id}/threads` may come without a body (the SDK sends `{}`).
    create = schema["paths"].get("/api/assistants/{assistant_id}/threads", {}).get("post", {})
    if "requestBody" in create:
        create["requestBody"]["required"] = False


BACKBOARD_DOCS = DoorDocs(
    prefix="/api",
    envelope=BackboardError,
    errors={
        ("POST", _SEND): _TURN,
        ("POST", _ADD): _TURN,
        ("POST", "/api/assistants"): _WRITE,
        ("GET", "/api/assistants"): _LIST,
        ("GET", "/api/assistants/{assistant_id}"): _ONE,
        ("PUT", "/api/assistants/{assistant_id}"): _WRITE,
        ("DELETE", "/api/assistants/{assistant_id}"): _ONE,
        ("POST", "/api/assistants/{assistant_id}/threads"): _WRITE,
        ("GET", "/api/assistants/{assistant_id}/threads"): _ONE,
        ("GET", "/api/threads"): _LIST,
        ("GET", "/api/threads/{thread_id}"): _ONE,
        ("DELETE", "/api/threads/{thread_id}"): _ONE,
        ("GET", _MEMORIES): _ONE,
        ("POST", _MEMORIES): _EMBED,
        ("GET", f"{_MEMORIES}/stats"): _ONE,
        ("POST", f"{_MEMORIES}/search"): _EMBED,
        ("GET", f"{_MEMORIES}/{{memory_id}}"): _ONE,
        ("PUT", f"{_MEMORIES}/{{memory_id}}"): _EMBED,
        ("DELETE", f"{_MEMORIES}/{{memory_id}}"): _ONE,
        ("GET", "/api/assistants/memories/operations/{operation_id}"): _ONE,
    },
    strict=(
        BackboardAssistantCreate,
        BackboardAssistantUpdate,
        BackboardThreadCreate,
        MemoryBody,
        SearchBody,
    ),
    extra=_finish,
)
