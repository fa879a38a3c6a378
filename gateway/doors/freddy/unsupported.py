"""Fields of Freddy's API that the gateway does not implement (SPEC §10): a request is never
silently half-served. Such a field is accepted when absent, null, empty or at Freddy's default, and
refused otherwise with 400 `UNSUPPORTED_PARAMETER` naming it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from gateway.errors import UnsupportedParameter

# The value Freddy's API gives a field when the request names none (besides null and empty).
_DEFAULTS: dict[str, Any] = {
    "disable_rules": False,
    "output_mode": "text",
    "include_deleted": False,
    "stream": False,
}


def is_default(name: str, value: Any, defaults: Mapping[str, Any] = _DEFAULTS) -> bool:
    if value is None or value == defaults.get(name):
        return True
    return isinstance(value, list | dict | str) and len(value) == 0


def refuse_unsupported(
    body: msgspec.Struct,
    names: tuple[str, ...],
    wire: dict[str, str] | None = None,
    defaults: Mapping[str, Any] = _DEFAULTS,
) -> None:
    """Raise for the first of `names` that `body` sets to something the gateway would not do
    (named in the error as the client sent it: `wire` maps attribute names to field names).
    `defaults`: Freddy's default values of these fields, when not the turn's."""
    for name in names:
        value = getattr(body, name)
        if not is_default(name, value, defaults):
            raise UnsupportedParameter((wire or {}).get(name, name))


def refuse_unsupported_values(values: dict[str, Any], defaults: Mapping[str, Any] = _DEFAULTS) -> None:
    """The same rule for query parameters (and other loose values), given by name."""
    for name, value in values.items():
        if not is_default(name, value, defaults):
            raise UnsupportedParameter(name)
