"""The settings the provider adapters are built from: a view of the gateway's own settings."""

from __future__ import annotations

import msgspec


class ProviderSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The settings the adapters are built from (a view of the gateway's settings)."""

    attempt_timeout_s: float = 60.0
    echo_context_tokens: int = 32_768
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    anthropic_api_key: str | None = None
    anthropic_base_url: str | None = None
    anthropic_max_tokens: int = 4096
