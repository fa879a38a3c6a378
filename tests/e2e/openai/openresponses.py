"""What the Open Responses specification (the `openresponses/openresponses` OpenAPI document,
version 2026-04-24) requires of a response object (`ResponseResource`) and of the streaming events
the gateway sends, written out as JSON Schema for the parts the gateway produces: every required
field, its type, and the enums. `check_response` and `check_event` raise on anything else."""

from __future__ import annotations

from typing import Any

import jsonschema

Schema = dict[str, Any]


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _obj(required: dict[str, Schema], **optional: Schema) -> Schema:
    return {"type": "object", "required": list(required), "properties": {**required, **optional}}


_STR, _INT, _NUM, _BOOL = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}
_INPUT_TEXT = _obj({"type": {"enum": ["input_text"]}, "text": _STR})
_OUTPUT_TEXT = _obj(
    {"type": {"enum": ["output_text"]}, "text": _STR, "annotations": {"type": "array"}},
    logprobs={"type": "array"},
)
_MESSAGE = _obj(
    {
        "type": {"enum": ["message"]},
        "id": _STR,
        "status": {"enum": ["in_progress", "completed", "incomplete"]},
        "role": {"enum": ["user", "assistant", "system", "developer"]},
        "content": {"type": "array", "items": {"oneOf": [_INPUT_TEXT, _OUTPUT_TEXT]}},
    }
)
_USAGE = _obj(
    {
        "input_tokens": _INT,
        "output_tokens": _INT,
        "total_tokens": _INT,
        "input_tokens_details": _obj({"cached_tokens": _INT}),
        "output_tokens_details": _obj({"reasoning_tokens": _INT}),
    }
)
RESPONSE_RESOURCE = _obj(
    {
        "id": _STR,
        "object": {"enum": ["response"]},
        "created_at": _INT,
        "completed_at": _nullable(_INT),
        "status": _STR,
        "incomplete_details": _nullable(_obj({"reason": _STR})),
        "model": _STR,
        "previous_response_id": _nullable(_STR),
        "instructions": _nullable(_STR),
        "output": {"type": "array", "items": _MESSAGE},
        "error": _nullable(_obj({"code": _STR, "message": _STR})),
        "tools": {"type": "array"},
        "tool_choice": {"oneOf": [{"enum": ["none", "auto", "required"]}, {"type": "object"}]},
        "truncation": {"enum": ["auto", "disabled"]},
        "parallel_tool_calls": _BOOL,
        "text": _obj({"format": _obj({"type": {"enum": ["text", "json_object", "json_schema"]}})}),
        "top_p": _NUM,
        "presence_penalty": _NUM,
        "frequency_penalty": _NUM,
        "top_logprobs": _INT,
        "temperature": _NUM,
        "reasoning": _nullable({"type": "object"}),
        "usage": _nullable(_USAGE),
        "max_output_tokens": _nullable(_INT),
        "max_tool_calls": _nullable(_INT),
        "store": _BOOL,
        "background": _BOOL,
        "service_tier": _STR,
        "metadata": {},
        "safety_identifier": _nullable(_STR),
        "prompt_cache_key": _nullable(_STR),
    },
    conversation=_nullable(_obj({"id": _STR})),
)


def _event(name: str, **fields: Schema) -> Schema:
    return _obj({"type": {"enum": [name]}, "sequence_number": _INT, **fields})


_PART = {"oneOf": [_INPUT_TEXT, _OUTPUT_TEXT]}
_AT = {"item_id": _STR, "output_index": _INT, "content_index": _INT}
EVENTS: dict[str, Schema] = {
    **{
        name: _event(name, response=RESPONSE_RESOURCE)
        for name in ("response.created", "response.in_progress", "response.completed", "response.failed")
    },
    "response.output_item.added": _event("response.output_item.added", output_index=_INT, item=_MESSAGE),
    "response.output_item.done": _event("response.output_item.done", output_index=_INT, item=_MESSAGE),
    "response.content_part.added": _event("response.content_part.added", **_AT, part=_PART),
    "response.content_part.done": _event("response.content_part.done", **_AT, part=_PART),
    "response.output_text.delta": _event("response.output_text.delta", **_AT, delta=_STR),
    "response.output_text.done": _event("response.output_text.done", **_AT, text=_STR),
}


def check_response(data: dict[str, Any]) -> None:
    jsonschema.validate(data, RESPONSE_RESOURCE)


def check_event(data: dict[str, Any]) -> None:
    schema = EVENTS.get(data.get("type", ""))
    assert schema is not None, f"not an Open Responses event the gateway may send: {data.get('type')}"
    jsonschema.validate(data, schema)
