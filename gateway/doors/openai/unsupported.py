"""Parameters of OpenAI's Responses API that the gateway does not implement (SPEC §14, with §10's
rule): accepted when absent, null, empty or at OpenAI's default (or at a value that means the same
without tools, such as `tool_choice: "none"`), otherwise 400 `UNSUPPORTED_PARAMETER` naming it. A
request is never silently half-served: `tools` included."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gateway.doors.openai.schemas import OpenAIResponseCreate
from gateway.errors import UnsupportedParameter


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, list | dict | str) and len(value) == 0)


def _one_of(*allowed: Any) -> Callable[[Any], bool]:
    # `type(...) is` keeps `True` from passing for 1 and `0` for False.
    return lambda v: _empty(v) or any(type(v) is type(a) and v == a for a in allowed)


def _plain_text(value: Any) -> bool:
    return _empty(value) or value in ({"format": {"type": "text"}}, {"format": None})


ALLOWED: Mapping[str, Callable[[Any], bool]] = {
    "access_programs": _empty,
    "background": _one_of(False),
    "background_options": _empty,
    "context_management": _empty,
    "image": _empty,
    "include": _empty,
    "max_tool_calls": _empty,
    "moderation": _empty,
    "parallel_tool_calls": _one_of(True, False),  # without tools, either means the same
    "prompt": _empty,
    "prompt_cache_key": _empty,
    "prompt_cache_options": _empty,
    "prompt_cache_retention": _empty,
    "reasoning": _empty,
    "safety_identifier": _empty,
    "service_tier": _one_of("auto", "default"),
    "text": _plain_text,
    "tool_choice": _one_of("auto", "none"),  # without tools, either means the same
    "tools": _empty,
    "top_logprobs": _one_of(0),
}


def refuse_unsupported(body: OpenAIResponseCreate) -> None:
    """Raise for the first parameter of `ALLOWED` that `body` sets to something not served."""
    for name, allowed in ALLOWED.items():
        if not allowed(getattr(body, name)):
            raise UnsupportedParameter(name)


def refuse_include(include: object, name: str = "include") -> None:
    """`include` of the item routes: nothing extra can be included."""
    if not _empty(include):
        raise UnsupportedParameter(name)
