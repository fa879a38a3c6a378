"""The provider table: every provider the gateway knows, declared once.

Routing (`providers.registry`), the config file's reserved names (`providers.config`) and the app's
wiring (`build_providers`) are all derived from `TABLE`.
"""

from __future__ import annotations

import os

from providers.anthropic import AnthropicProvider
from providers.base import Provider
from providers.config import ProviderConfig
from providers.echo import EchoProvider
from providers.openai import DEFAULT_CONTEXT_TOKENS, OpenAIProvider
from providers.settings import ProviderSettings


def build_providers(settings: ProviderSettings, config: ProviderConfig) -> dict[str, Provider]:
    """Adapters for every provider that has a key: upstream hosts come only from configuration."""
    attempt = settings.attempt_timeout_s
    providers: dict[str, Provider] = {"echo": EchoProvider(settings.echo_context_tokens)}
    if settings.openai_api_key:
        providers["openai"] = OpenAIProvider(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            attempt_timeout_s=attempt,
            legacy_max_tokens=settings.openai_base_url is not None,
        )
    if settings.anthropic_api_key:
        providers["anthropic"] = AnthropicProvider(
            api_key=settings.anthropic_api_key,
            base_url=settings.anthropic_base_url,
            attempt_timeout_s=attempt,
            default_max_tokens=settings.anthropic_max_tokens,
        )
    for name, endpoint in config.endpoints.items():
        key = os.environ.get(endpoint.api_key_env) if endpoint.api_key_env else "none"
        if not key:
            continue  # named but without its key: 503 PROVIDER_NOT_CONFIGURED
        providers[name] = OpenAIProvider(
            name=name,
            api_key=key,
            base_url=endpoint.base_url,
            attempt_timeout_s=attempt,
            legacy_max_tokens=endpoint.legacy_max_tokens,
            default_context_tokens=endpoint.context_tokens or DEFAULT_CONTEXT_TOKENS,
            direct=True,
        )
    return providers
