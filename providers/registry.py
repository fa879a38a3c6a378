"""Routing a model name to a provider (SPEC §7).

`provider/model` names the provider; bare names route by family; aliases come from configuration.
The names and families come from the provider table (`providers.table`). A provider the table knows
but that has no adapter configured (no key) is "not configured", which is a different answer from an
unknown model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import msgspec

from providers.base import Provider
from providers.errors import NotConfigured, UnknownModel
from providers.table import NAMES, TABLE

KNOWN_PROVIDERS = NAMES

# Bare model names by family, first match wins.
_FAMILIES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), kind.name) for kind in TABLE for pattern in kind.families
)

# What an upstream model name may look like: segments of letters, digits and `_ . : + -` (Ollama's
# `llama3.1:8b`, Hugging Face's `meta-llama/Llama-3.1-8B`), each starting with a letter, digit or `_`,
# so never `.` or `..`. The name only travels in request bodies today, but a caller must not be able
# to smuggle a path, a query or an address into an upstream request should a provider put it in a URL.
_UPSTREAM_MODEL = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:+\-]*(/[A-Za-z0-9_][A-Za-z0-9_.:+\-]*)*\Z")
_MAX_MODEL_CHARS = 256


class Route(msgspec.Struct, frozen=True):
    provider: Provider
    model: str


class Registry:
    """Maps model names to (provider, upstream model name)."""

    def __init__(
        self,
        providers: Mapping[str, Provider],
        *,
        aliases: Mapping[str, str] | None = None,
        fallbacks: Mapping[str, Sequence[str]] | None = None,
        known: frozenset[str] = KNOWN_PROVIDERS,
    ) -> None:
        self._providers = dict(providers)
        self._aliases = dict(aliases or {})
        self._fallbacks = {k: tuple(v) for k, v in (fallbacks or {}).items()}
        self._known = known | frozenset(self._providers)

    def chain(self, model: str) -> list[Route]:
        """The model's route, then its configured fallbacks (those that can be served).

        The model itself must be servable; a fallback that is unknown or has no key is skipped.
        """
        first = self.route(model)
        names = self._fallbacks.get(model) or self._fallbacks.get(self._aliases.get(model, model), ())
        routes = [first]
        for name in names:
            try:
                routes.append(self.route(name))
            except (UnknownModel, NotConfigured):
                continue
        return routes

    def route(self, model: str) -> Route:
        """Raise `UnknownModel` or `NotConfigured` when the name cannot be served."""
        name = self._aliases.get(model, model)
        provider_name, sep, upstream = name.partition("/")
        if sep:
            if provider_name not in self._known or not upstream:
                raise UnknownModel(model)
        else:
            upstream = name
            provider_name = next((p for rx, p in _FAMILIES if rx.search(name)), "")
            if not provider_name:
                raise UnknownModel(model)
        if len(upstream) > _MAX_MODEL_CHARS or not _UPSTREAM_MODEL.match(upstream):
            raise UnknownModel(model)
        provider = self._providers.get(provider_name)
        if provider is None:
            raise NotConfigured(provider_name)
        return Route(provider, upstream)
