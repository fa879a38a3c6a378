"""Fields of Backboard's API that the gateway does not implement (SPEC §13, with §10's rule): such a
field is accepted when absent, null, empty or at Backboard's default, and refused otherwise with
400 `UNSUPPORTED_PARAMETER` naming it. Form bodies carry text, so `"false"` is false here."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.errors import UnsupportedParameter

# The value Backboard gives a field when the request names none (besides null and empty).
_DEFAULTS: dict[str, Any] = {
    "memory_pro": "off",
    "memory_response_citation": False,
    "memory_citation": False,
    "web_search": "off",
    "image_generation": "off",
    "video_generation": "off",
    "send_to_llm": True,
    "json_output": False,
    "operation": "chat",
}
_WORDS = {"true": True, "false": False}


def is_default(name: str, value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        text = value.strip().lower()
        if not text:
            return True
        value = _WORDS.get(text, text)
    elif isinstance(value, list | dict) and not value:
        return True
    default = _DEFAULTS.get(name)
    return default is not None and type(value) is type(default) and value == default


def refuse_unsupported(body: msgspec.Struct, names: tuple[str, ...]) -> None:
    """Raise for the first of `names` that `body` sets to something the gateway would not do."""
    for name in names:
        value = getattr(body, name)
        if value is not None and not is_default(name, value):  # most are absent: no call for those
            raise UnsupportedParameter(name)
