"""Calling the model: retries, timeouts and fallbacks, all in this one place (SPEC §7).

Rules:
- The SDKs' own retries are off, so attempts never stack.
- Every attempt and every wait fits inside one overall deadline, `GATEWAY_PROVIDER_TIMEOUT_S`.
- A 429 is never retried and never falls back: the caller gets 429 at once with `Retry-After`.
- A retryable failure (5xx, 408, 409, a broken connection, an attempt timeout) is tried again on the
  same provider up to `attempts` times, then on the next provider of the model's fallback list.
- A stream falls back only before its first text delta reached the client; after that, a failure
  ends the stream with `response.failed`.
- A refusal (4xx other than the above) is final: the next provider would refuse it too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import msgspec
import structlog

from providers.base import Completion, ModelRequest, TextDelta
from providers.errors import ProviderError, UpstreamFailed, UpstreamRateLimited, UpstreamTimeout
from providers.registry import Route

_log = structlog.get_logger("gateway.calls")


class CallPolicy(msgspec.Struct, frozen=True, kw_only=True):
    total_timeout_s: float = 120.0
    attempts: int = 2
    backoff_s: float = 0.2


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, UpstreamRateLimited):
        return False
    if isinstance(exc, UpstreamTimeout | TimeoutError):
        return True
    return isinstance(exc, UpstreamFailed) and exc.retryable


class _Attempts:
    """The attempts of one call, in order: each provider of the chain `policy.attempts` times, all
    inside one deadline. Both `complete` and `stream` walk it the same way."""

    def __init__(self, routes: Sequence[Route], policy: CallPolicy) -> None:
        self._routes = routes
        self._policy = policy
        self._loop = asyncio.get_running_loop()
        self.deadline = self._loop.time() + policy.total_timeout_s
        self._last: BaseException | None = None

    async def plan(self, request: ModelRequest) -> AsyncIterator[tuple[Route, ModelRequest]]:
        """Yields each attempt's route and request; waits between attempts on one provider."""
        steps = [(route, n) for route in self._routes for n in range(self._policy.attempts)]
        for i, (route, n) in enumerate(steps):
            if self._loop.time() >= self.deadline:
                return
            yield route, msgspec.structs.replace(request, model=route.model)
            if i + 1 < len(steps) and steps[i + 1][0] is route:
                delay = self._policy.backoff_s * (2**n)
                await asyncio.sleep(min(delay, max(self.deadline - self._loop.time(), 0)))

    def failed(self, route: Route, exc: ProviderError | TimeoutError) -> None:
        """Note a failed attempt, or re-raise it when it must not be retried."""
        if not _retryable(exc):
            raise exc
        self._last = exc
        _log.warning("provider_attempt_failed", provider=route.provider.name, error=type(exc).__name__)

    def exhausted(self) -> ProviderError:
        """The error once every attempt failed or the deadline passed."""
        if isinstance(self._last, UpstreamFailed):
            return self._last
        return UpstreamTimeout(self._routes[-1].provider.name if self._routes else "provider")


async def complete(routes: Sequence[Route], request: ModelRequest, policy: CallPolicy) -> Completion:
    attempts = _Attempts(routes, policy)
    async for route, req in attempts.plan(request):
        try:
            async with asyncio.timeout_at(attempts.deadline):
                return await route.provider.complete(req)
        except (ProviderError, TimeoutError) as exc:
            attempts.failed(route, exc)
    raise attempts.exhausted()


async def stream(
    routes: Sequence[Route], request: ModelRequest, policy: CallPolicy
) -> AsyncIterator[TextDelta | Completion]:
    attempts = _Attempts(routes, policy)
    async for route, req in attempts.plan(request):
        started = False
        try:
            async with asyncio.timeout_at(attempts.deadline):
                async for item in route.provider.stream(req):
                    if isinstance(item, TextDelta) and item.text:
                        started = True
                    yield item
            return
        except (ProviderError, TimeoutError) as exc:
            if started:
                raise  # a delta reached the client: no other provider may take over
            attempts.failed(route, exc)
    raise attempts.exhausted()
