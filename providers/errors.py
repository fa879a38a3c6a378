"""Errors an adapter or the registry raises, and the one mapping of upstream failures to them
(SPEC §7, §8); the gateway maps each adapter error to one answer.

Every adapter makes its upstream calls (complete, stream, embed) inside `UpstreamErrors`, given the
`ErrorFamily` of its client: `sdk_family(openai)`, `sdk_family(anthropic)` or `HTTP_ERRORS` for the
direct client. Failures are mapped by exception type and status code only, never by message text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import ModuleType, TracebackType

import aiohttp
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


class EmbeddingsUnsupported(ProviderError):
    """The provider has no embeddings API: final, neither retried nor worth another attempt."""

    def __init__(self, provider: str) -> None:
        super().__init__(f"Provider '{provider}' does not offer embeddings.")
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


class UpstreamStatus(Exception):
    """A non-2xx answer of a client without error types of its own (`providers.direct`), before
    `UpstreamErrors` maps it. It keeps the status and `Retry-After`, never the body."""

    def __init__(self, status: int, retry_after: str | None) -> None:
        super().__init__(f"upstream status {status}")
        self.status = status
        self.retry_after = retry_after


def retryable_status(status: int) -> bool:
    return status >= 500 or status in (408, 409)


def status_error(name: str, status: int, retry_after: str | None) -> ProviderError:
    """An upstream's HTTP error status as an adapter error, whichever client received it."""
    if status == 429:
        return UpstreamRateLimited(name, retry_after)
    # Anthropic's 529 "overloaded" is a server error like any 5xx.
    return UpstreamFailed(name, status, retryable=retryable_status(status))


def map_sdk_error(name: str, exc: Exception, sdk: ModuleType) -> ProviderError:
    """An official SDK's exception as an adapter error, by type and status only (never by text).

    The OpenAI and Anthropic SDKs share their exception hierarchy (`APITimeoutError`,
    `APIStatusError`, ...), so one mapping serves both.
    """
    if isinstance(exc, sdk.APITimeoutError):
        return UpstreamTimeout(name)
    if isinstance(exc, sdk.APIStatusError):
        return status_error(name, exc.status_code, exc.response.headers.get("retry-after"))
    # Connection errors, broken streams, unreadable answers: the upstream failed us.
    return UpstreamFailed(name, retryable=True)


def map_http_error(name: str, exc: Exception) -> ProviderError:
    """A failure of the direct client as an adapter error: its `UpstreamStatus`, then aiohttp's."""
    if isinstance(exc, UpstreamStatus):
        return status_error(name, exc.status, exc.retry_after)
    # Before the connection errors: aiohttp's `ServerTimeoutError` is one too.
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout(name)
    # Broken connections, unreadable answers.
    return UpstreamFailed(name, retryable=True)


@dataclass(frozen=True, slots=True)
class ErrorFamily:
    """What one kind of client raises when its upstream fails, and the adapter error each stands for.

    Anything else raised inside a call (a TypeError from a parameter the SDK does not know) is a bug
    of ours: it must surface as one, not be retried as the upstream's failure.
    """

    raised: tuple[type[Exception], ...]
    to_provider_error: Callable[[str, Exception], ProviderError]


def sdk_family(sdk: ModuleType) -> ErrorFamily:
    """An official SDK's failures: its own errors, transport errors it lets through (a broken stream
    surfaces as `httpx2.RemoteProtocolError`), and unreadable answers (JSON, msgspec and validation
    errors are all `ValueError`s)."""
    base: type[Exception] = sdk.OpenAIError if hasattr(sdk, "OpenAIError") else sdk.AnthropicError
    return ErrorFamily((base, httpx2.HTTPError, ValueError), partial(map_sdk_error, sdk=sdk))


# The direct client's failures: its status answers, aiohttp's errors (connections, payloads),
# timeouts, and unreadable answers (`ValueError`, msgspec's decode errors included).
HTTP_ERRORS = ErrorFamily((UpstreamStatus, aiohttp.ClientError, TimeoutError, ValueError), map_http_error)


class UpstreamErrors:
    """A context manager around an adapter's upstream call: a failure of its family raised inside
    leaves as the adapter error it stands for, without the original (whose text may echo a key).
    Anything else, adapter errors and cancellation included, passes unchanged.

    Stateless, so one instance serves every call of an adapter, streams included.
    """

    __slots__ = ("_map", "_name", "_raised")

    def __init__(self, name: str, family: ErrorFamily) -> None:
        self._name = name
        self._raised = family.raised
        self._map = family.to_provider_error

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, self._raised):
            raise self._map(self._name, exc) from None
