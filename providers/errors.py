"""Errors an adapter or the registry raises; the gateway maps each to one answer (SPEC §7, §8)."""

from __future__ import annotations

from types import ModuleType

import httpx2


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
    """The upstream did not answer within one attempt's time; worth another try."""

    retryable = True

    def __init__(self, provider: str) -> None:
        super().__init__(f"Provider '{provider}' did not answer in time.")
        self.provider = provider


class UpstreamFailed(ProviderError):
    """The upstream answered with an error, or the connection broke.

    `retryable`: a server error (5xx), a 408 or a broken connection may succeed on another try or
    another provider; a 4xx says the request itself is refused and would be refused again.
    """

    def __init__(self, provider: str, status: int | None = None, *, retryable: bool = False) -> None:
        detail = f" (upstream status {status})" if status else ""
        super().__init__(f"Provider '{provider}' failed{detail}.")
        self.provider = provider
        self.status = status
        self.retryable = retryable


def retryable_status(status: int) -> bool:
    return status >= 500 or status in (408, 409)


def map_sdk_error(name: str, exc: Exception, sdk: ModuleType) -> ProviderError:
    """An official SDK's exception as an adapter error, by type and status only (never by text).

    The OpenAI and Anthropic SDKs share their exception hierarchy (`RateLimitError`,
    `APITimeoutError`, `APIStatusError`, ...), so one mapping serves both.
    """
    if isinstance(exc, sdk.RateLimitError):
        return UpstreamRateLimited(name, exc.response.headers.get("retry-after"))
    if isinstance(exc, sdk.APITimeoutError):
        return UpstreamTimeout(name)
    if isinstance(exc, sdk.APIStatusError):
        # Anthropic's 529 "overloaded" is a server error like any 5xx.
        return UpstreamFailed(name, exc.status_code, retryable=retryable_status(exc.status_code))
    # Connection errors, broken streams, unreadable answers: the upstream failed us.
    return UpstreamFailed(name, retryable=True)


def upstream_errors(sdk: ModuleType) -> tuple[type[Exception], ...]:
    """What an upstream can make an SDK raise: the SDK's own errors, transport errors it lets
    through (a broken stream surfaces as `httpx2.RemoteProtocolError`), and unreadable answers
    (JSON, validation: `ValueError`). Anything else (a TypeError from a parameter the SDK does not
    know) is a bug of ours: it must surface as one, not be retried as the upstream's failure."""
    base: type[Exception] = sdk.OpenAIError if hasattr(sdk, "OpenAIError") else sdk.AnthropicError
    return (base, httpx2.HTTPError, ValueError)
