"""Errors an adapter or the registry raises; the gateway maps each to one answer (SPEC §7, §8)."""

from __future__ import annotations


class ProviderError(Exception):
    """An upstream call failed in a way the caller cannot fix by changing the request."""


class UnknownModel(ProviderError):
    def __init__(self, model: str) -> None:
        super().__init__(f"Model '{model}' is not known to this gateway.")
        self.model = model


class NotConfigured(ProviderError):
    def __init__(self, provider: str) -> None:
        super().__init__(f"Provider '{provider}' has no API key configured.")
        self.provider = provider


class UpstreamRateLimited(ProviderError):
    def __init__(self, provider: str, retry_after: str | None) -> None:
        super().__init__(f"Provider '{provider}' is rate limiting requests.")
        self.provider = provider
        self.retry_after = retry_after


class UpstreamTimeout(ProviderError):
    def __init__(self, provider: str) -> None:
        super().__init__(f"Provider '{provider}' did not answer in time.")
        self.provider = provider


class UpstreamFailed(ProviderError):
    def __init__(self, provider: str, status: int | None = None) -> None:
        detail = f" (upstream status {status})" if status else ""
        super().__init__(f"Provider '{provider}' failed{detail}.")
        self.provider = provider
        self.status = status
