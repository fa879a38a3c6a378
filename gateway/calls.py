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


def _plan(routes: Sequence[Route], policy: CallPolicy) -> list[tuple[Route, int]]:
    return [(route, attempt) for route in routes for attempt in range(policy.attempts)]


async def _pause(attempt: int, policy: CallPolicy, deadline: float) -> None:
    loop = asyncio.get_running_loop()
    delay = min(policy.backoff_s * (2**attempt), max(deadline - loop.time(), 0))
    await asyncio.sleep(delay)


async def complete(routes: Sequence[Route], request: ModelRequest, policy: CallPolicy) -> Completion:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + policy.total_timeout_s
    last: BaseException | None = None
    plan = _plan(routes, policy)
    for i, (route, attempt) in enumerate(plan):
        if loop.time() >= deadline:
            break
        try:
            async with asyncio.timeout_at(deadline):
                return await route.provider.complete(msgspec.structs.replace(request, model=route.model))
        except (ProviderError, TimeoutError) as exc:
            if not _retryable(exc):
                raise
            last = exc
            _log.warning(
                "provider_attempt_failed",
                provider=route.provider.name,
                attempt=attempt + 1,
                error=type(exc).__name__,
            )
        if i + 1 < len(plan) and plan[i + 1][0] is route:
            await _pause(attempt, policy, deadline)
    if isinstance(last, UpstreamFailed):
        raise last
    raise UpstreamTimeout(routes[-1].provider.name if routes else "provider")


async def stream(
    routes: Sequence[Route], request: ModelRequest, policy: CallPolicy
) -> AsyncIterator[TextDelta | Completion]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + policy.total_timeout_s
    last: BaseException | None = None
    plan = _plan(routes, policy)
    for i, (route, attempt) in enumerate(plan):
        if loop.time() >= deadline:
            break
        started = False
        try:
            async with asyncio.timeout_at(deadline):
                async for item in route.provider.stream(msgspec.structs.replace(request, model=route.model)):
                    if isinstance(item, TextDelta) and item.text:
                        started = True
                    yield item
            return
        except (ProviderError, TimeoutError) as exc:
            if started or not _retryable(exc):
                raise
            last = exc
            _log.warning(
                "provider_attempt_failed",
                provider=route.provider.name,
                attempt=attempt + 1,
                error=type(exc).__name__,
            )
        if i + 1 < len(plan) and plan[i + 1][0] is route:
            await _pause(attempt, policy, deadline)
    if isinstance(last, UpstreamFailed):
        raise last
    raise UpstreamTimeout(routes[-1].provider.name if routes else "provider")
