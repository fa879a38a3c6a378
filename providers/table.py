"""The provider table: every provider the gateway knows by name, declared once.

Routing (`providers.registry`: the known names and the families of bare model names), the config
file's reserved names (`providers.config`) and the app's adapters (`build_providers`) all come from
`TABLE`. The config file's `[endpoints]` add OpenAI-compatible providers under names of their own.

Adding a provider: one `ProviderKind` here and one adapter module implementing
`providers.base.Provider`, which then runs the provider suite (tests/integration/providers/).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import msgspec

from providers.base import Provider
from providers.compatible import OpenAICompatibleProvider
from providers.echo import EchoProvider
from providers.openai_wire import DEFAULT_CONTEXT_TOKENS
from providers.settings import ProviderSettings

if TYPE_CHECKING:
    # Only a type here: `providers.config` reads `NAMES` from this module.
    from providers.config import ProviderConfig


class ProviderKind(msgspec.Struct, frozen=True, kw_only=True):
    """One provider known by name.

    `families`: patterns (`re.search`) of the bare model names routed to it, tried in table order.
    `settings`: the `ProviderSettings` fields its `factory` takes, by keyword, and nothing else.
    `key`: the one of them without which it is not configured (None: it needs none).
    """

    name: str
    families: tuple[str, ...]
    settings: tuple[str, ...]
    factory: Callable[..., Provider]
    key: str | None = None


def _echo(*, echo_context_tokens: int) -> Provider:
    return EchoProvider(echo_context_tokens)


# The SDK adapters are imported when one is made (a process without their key never loads the
# SDKs: about 3.5 s of a worker's start on this machine).


def _openai(*, openai_api_key: str, openai_base_url: str | None, attempt_timeout_s: float) -> Provider:
    from providers.openai import OpenAIProvider

    return OpenAIProvider(
        api_key=openai_api_key,
        base_url=openai_base_url,
        attempt_timeout_s=attempt_timeout_s,
        # A base URL means a compatible server, and those know `max_tokens`.
        legacy_max_tokens=openai_base_url is not None,
    )


def _anthropic(
    *,
    anthropic_api_key: str,
    anthropic_base_url: str | None,
    anthropic_max_tokens: int,
    attempt_timeout_s: float,
) -> Provider:
    from providers.anthropic import AnthropicProvider

    return AnthropicProvider(
        api_key=anthropic_api_key,
        base_url=anthropic_base_url,
        attempt_timeout_s=attempt_timeout_s,
        default_max_tokens=anthropic_max_tokens,
    )


TABLE: tuple[ProviderKind, ...] = (
    ProviderKind(name="echo", families=(r"^echo$",), settings=("echo_context_tokens",), factory=_echo),
    ProviderKind(
        name="openai",
        families=(r"^(gpt-|chatgpt-|o\d)",),
        settings=("openai_api_key", "openai_base_url", "attempt_timeout_s"),
        key="openai_api_key",
        factory=_openai,
    ),
    ProviderKind(
        name="anthropic",
        families=(r"^claude-",),
        settings=("anthropic_api_key", "anthropic_base_url", "anthropic_max_tokens", "attempt_timeout_s"),
        key="anthropic_api_key",
        factory=_anthropic,
    ),
)

NAMES = frozenset(kind.name for kind in TABLE)


def _configured(
    settings: ProviderSettings, config: ProviderConfig
) -> Iterator[tuple[str, Callable[[], Provider]]]:
    """Each provider that has what it needs (its key; an endpoint's key when it names one), with
    how to make its adapter: upstream hosts come only from configuration."""
    for kind in TABLE:
        if kind.key is None or getattr(settings, kind.key):
            fields = {field: getattr(settings, field) for field in kind.settings}
            yield kind.name, functools.partial(kind.factory, **fields)
    for name, endpoint in config.endpoints.items():
        # An endpoint without `api_key_env` is a keyless server; the header still needs a value.
        key = os.environ.get(endpoint.api_key_env) if endpoint.api_key_env else "none"
        if not key:
            continue  # named but without its key: 503 PROVIDER_NOT_CONFIGURED
        yield (
            name,
            functools.partial(
                OpenAICompatibleProvider,
                name=name,
                base_url=endpoint.base_url,
                api_key=key,
                attempt_timeout_s=settings.attempt_timeout_s,
                default_context_tokens=endpoint.context_tokens or DEFAULT_CONTEXT_TOKENS,
                legacy_max_tokens=endpoint.legacy_max_tokens,
            ),
        )


def configured_names(settings: ProviderSettings, config: ProviderConfig) -> list[str]:
    """The names of the providers `build_providers` makes adapters for (nothing is made)."""
    return [name for name, _ in _configured(settings, config)]


def build_providers(settings: ProviderSettings, config: ProviderConfig) -> dict[str, Provider]:
    """Adapters for every provider that has a key: upstream hosts come only from configuration."""
    return {name: make() for name, make in _configured(settings, config)}
