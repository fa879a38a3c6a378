"""What the Backboard door's routes answer besides their success and the rules of every route
(`gateway.http.openapi`), for the OpenAPI document."""

from __future__ import annotations

import msgspec

from gateway.doors.backboard.door import PREFIX
from gateway.doors.backboard.errors import BackboardError
from gateway.doors.backboard.memories import MemoryBody, SearchBody
from gateway.doors.backboard.objects import BackboardAnswer
from gateway.doors.backboard.schemas import (
    BackboardAssistantCreate,
    BackboardAssistantUpdate,
    BackboardMessageBody,
    BackboardThreadCreate,
)
from gateway.http.openapi import CALLS_MODEL, DoorDocs, Schema, component, event, event_stream

_REF = "#/components/schemas/{name}"
_TURN = (*CALLS_MODEL, 404, 409)  # 404: the thread, the assistant or the model
_SEND = "/api/threads/messages"
_ADD = "/api/threads/{thread_id}/messages"
_MEMORIES = "/api/assistants/{assistant_id}/memories"
# A memory's text is embedded: a provider's embedding model may fail (502), time out (504).
_EMBED = (502, 504)
_ID = {"type": ["string", "null"]}
_STR = {"type": "string"}


def stream_events(schema: Schema) -> Schema:
    """The events of a streamed turn (SPEC §13), as `gateway.doors.backboard.turn` sends them."""
    return event_stream(
        "Server-sent events as `backboard-sdk` parses them: `data:` lines of JSON only (no `event:` "
        "line), the event's name in `type`. The turn is saved before `message_complete`; after an "
        "`error` event nothing is saved.",
        [
            (
                "run_started",
                "first",
                event(
                    "run_started",
                    {"thread_id": {"type": "string"}, "assistant_id": _ID, "run_id": {"type": "string"}},
                    ["thread_id", "assistant_id", "run_id"],
                ),
            ),
            (
                "content_streaming",
                "for each chunk of text, as the provider sends it",
                event("content_streaming", {"content": {"type": "string"}}, ["content"]),
            ),
            (
                "message_complete",
                "the flat message object (the fields of a whole answer)",
                {"allOf": [component(schema, BackboardAnswer), event("message_complete", {})]},
            ),
            (
                "run_ended",
                "last (status `completed`)",
                event(
                    "run_ended",
                    {
                        "status": {"type": "string"},
                        "thread_id": {"type": "string"},
                        "assistant_id": _ID,
                        "message_id": {"type": "string"},
                    },
                    ["status", "thread_id", "assistant_id", "message_id"],
                ),
            ),
            (
                "error",
                "last, instead: the failure (the SDK raises it as `BackboardAPIError`)",
                event("error", {"error": _STR, "status": {"type": "integer"}}, ["error", "status"]),
            ),
        ],
    )


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
                "application/json": {"schema": component(schema, BackboardAnswer)},
                "text/event-stream": stream_events(schema),
            }
    # `POST /api/assistants/{id}/threads` may come without a body (the SDK sends `{}`).
    create = schema["paths"].get("/api/assistants/{assistant_id}/threads", {}).get("post", {})
    if "requestBody" in create:
        create["requestBody"]["required"] = False


BACKBOARD_DOCS = DoorDocs(
    prefixes=(PREFIX,),
    envelope=BackboardError,
    errors={
        ("POST", _SEND): _TURN,
        ("POST", _ADD): _TURN,
        ("POST", "/api/assistants"): (400, 404, 409),
        ("PUT", "/api/assistants/{assistant_id}"): (400, 409),
        ("POST", "/api/assistants/{assistant_id}/threads"): (400, 409),
        ("POST", _MEMORIES): _EMBED,
        ("POST", f"{_MEMORIES}/search"): _EMBED,
        ("PUT", f"{_MEMORIES}/{{memory_id}}"): _EMBED,
    },
    strict=(
        BackboardAssistantCreate,
        BackboardAssistantUpdate,
        BackboardThreadCreate,
        MemoryBody,
        SearchBody,
    ),
    idempotent=(("POST", _SEND), ("POST", _ADD)),
    extra=_finish,
)
