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

Every attempt is reported to the probe (`gateway.observability.probe`): counted by provider and
model, as a retry or a fallback, with its tokens or its error code, and as a span when tracing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator, Sequence

import msgspec
import structlog

from gateway import errors
from gateway.observability.probe import NO_PROBE, Attempt, Probe
from providers import errors as perr
from providers.base import Completion, EmbeddingRequest, Embeddings, ModelRequest, Provider, TextDelta
from providers.errors import ProviderError, UpstreamFailed, UpstreamRateLimited, UpstreamTimeout
from providers.registry import Registry, Route

_log = structlog.get_logger("gateway.calls")


def _rate_limited(exc: ProviderError) -> errors.GatewayError:
    retry_after = exc.retry_after if isinstance(exc, UpstreamRateLimited) else None
    return errors.RateLimited(str(exc), headers={"Retry-After": retry_after} if retry_after else {})


# The one table from adapter failures to gateway answers (SPEC §7, §8), first match wins: a more
# specific class stands before its base.
_ERRORS: tuple[tuple[type[ProviderError], Callable[[ProviderError], errors.GatewayError]], ...] = (
    (perr.UnknownModel, lambda e: errors.ModelNotFound(str(e))),
    (perr.NotConfigured, lambda e: errors.ProviderNotConfigured(str(e))),
    # An embedding model on a provider without embeddings: the operator's setting, not the caller's.
    (perr.EmbeddingsUnsupported, lambda e: errors.ProviderNotConfigured(str(e))),
    (UpstreamRateLimited, _rate_limited),
    (UpstreamTimeout, lambda e: errors.ProviderTimeout(str(e))),
    (ProviderError, lambda e: errors.ProviderFailed(str(e))),
)


def gateway_error(exc: ProviderError | TimeoutError) -> errors.GatewayError:
    """The answer an adapter's failure (or the call's deadline) stands for."""
    if isinstance(exc, TimeoutError):
        return errors.ProviderTimeout(str(exc) or "The provider did not answer in time.")
    for kind, make in _ERRORS:
        if isinstance(exc, kind):
            return make(exc)
    return errors.ProviderFailed(str(exc))


@contextlib.contextmanager
def provider_errors() -> Iterator[None]:
    """Adapter failures raised inside become gateway errors."""
    try:
        yield
    except (ProviderError, TimeoutError) as exc:
        raise gateway_error(exc) from None


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
    inside one deadline. `complete`, `embed` and `stream` walk it the same way."""

    def __init__(self, routes: Sequence[Route], policy: CallPolicy) -> None:
        self._routes = routes
        self._policy = policy
        self._loop = asyncio.get_running_loop()
        self.deadline = self._loop.time() + policy.total_timeout_s
        self._last: BaseException | None = None
        self._last_route: Route | None = None  # the provider asked last: the one a timeout names
        # Of the attempt just planned: a repeat on the same provider, or a fallback's.
        self.retry = False
        self.fallback = False

    async def plan[R: (ModelRequest, EmbeddingRequest)](self, request: R) -> AsyncIterator[tuple[Route, R]]:
        """Yields each attempt's route and request; waits between attempts on one provider."""
        steps = [(route, n) for route in self._routes for n in range(self._policy.attempts)]
        for i, (route, n) in enumerate(steps):
            if self._loop.time() >= self.deadline:
                return
            self.retry, self.fallback = n > 0, n == 0 and route is not self._routes[0]
            yield route, msgspec.structs.replace(request, model=route.model)
            if i + 1 < len(steps) and steps[i + 1][0] is route:
                delay = self._policy.backoff_s * (2**n)
                await asyncio.sleep(min(delay, max(self.deadline - self._loop.time(), 0)))

    def failed(self, route: Route, exc: ProviderError | TimeoutError) -> None:
        """Note a failed attempt, or re-raise it when it must not be retried."""
        if not _retryable(exc):
            raise exc
        self._last, self._last_route = exc, route
        _log.warning("provider_attempt_failed", provider=route.provider.name, error=type(exc).__name__)

    def exhausted(self) -> ProviderError:
        """The error once every attempt failed or the deadline passed."""
        if isinstance(self._last, UpstreamFailed):
            return self._last
        route = self._last_route or (self._routes[0] if self._routes else None)
        return UpstreamTimeout(route.provider.name if route is not None else "provider")


def _attempt(probe: Probe, attempts: _Attempts, route: Route, operation: str) -> Attempt:
    return probe.attempt(
        route.provider.name,
        route.model,
        operation=operation,
        retry=attempts.retry,
        fallback=attempts.fallback,
    )


def _failed(attempt: Attempt, exc: BaseException) -> None:
    """Report a failed attempt by the code it stands for: CANCELLED when the request went away (its
    task cancelled, its stream closed), INTERNAL_ERROR for an adapter's own bug."""
    if isinstance(exc, ProviderError | TimeoutError):
        attempt.failed(gateway_error(exc).code)
    elif isinstance(exc, asyncio.CancelledError | GeneratorExit):
        attempt.failed("CANCELLED")
    else:
        attempt.failed("INTERNAL_ERROR")


async def _once[R: (ModelRequest, EmbeddingRequest), T: (Completion, Embeddings)](
    routes: Sequence[Route],
    request: R,
    policy: CallPolicy,
    call: Callable[[Provider, R], Awaitable[T]],
    probe: Probe,
    operation: str,
) -> T:
    """One answer (`call` of an attempt's provider), over the attempts of the chain."""
    attempts = _Attempts(routes, policy)
    async for route, req in attempts.plan(request):
        attempt = _attempt(probe, attempts, route, operation)
        try:
            async with asyncio.timeout_at(attempts.deadline):
                result = await call(route.provider, req)
        except (ProviderError, TimeoutError) as exc:
            _failed(attempt, exc)
            attempts.failed(route, exc)
            continue
        except BaseException as exc:
            _failed(attempt, exc)
            raise
        attempt.done(result.input_tokens, result.output_tokens if isinstance(result, Completion) else 0)
        return result
    raise attempts.exhausted()


def _complete(provider: Provider, request: ModelRequest) -> Awaitable[Completion]:
    return provider.complete(request)


def _embed(provider: Provider, request: EmbeddingRequest) -> Awaitable[Embeddings]:
    return provider.embed(request)


async def _stream(
    routes: Sequence[Route], request: ModelRequest, policy: CallPolicy, probe: Probe
) -> AsyncIterator[TextDelta | Completion]:
    attempts = _Attempts(routes, policy)
    async for route, req in attempts.plan(request):
        started = False
        attempt = _attempt(probe, attempts, route, "stream")
        try:
            async with asyncio.timeout_at(attempts.deadline):
                async for item in route.provider.stream(req):
                    if isinstance(item, TextDelta):
                        started = started or bool(item.text)
                    else:
                        attempt.done(item.input_tokens, item.output_tokens)
                    yield item
            attempt.failed("PROVIDER_ERROR")  # no result came (nothing if one did)
            return
        except (ProviderError, TimeoutError) as exc:
            _failed(attempt, exc)
            if started:
                raise  # a delta reached the client: no other provider may take over
            attempts.failed(route, exc)
        except BaseException as exc:  # the stream was closed (the client left) or cancelled
            _failed(attempt, exc)
            raise
    raise attempts.exhausted()


class Caller:
    """Calls the model of a request over its route and fallbacks; every failure comes out as a
    `GatewayError` of the table above."""

    def __init__(self, registry: Registry, policy: CallPolicy, probe: Probe = NO_PROBE) -> None:
        self._registry = registry
        self._policy = policy
        self._probe = probe

    def routes(self, model: str) -> tuple[Route, ...]:
        """The model's route, then its fallbacks; `MODEL_NOT_FOUND` or `PROVIDER_NOT_CONFIGURED`."""
        with provider_errors():
            return tuple(self._registry.chain(model))

    async def complete(self, routes: Sequence[Route], request: ModelRequest) -> Completion:
        with provider_errors():
            return await _once(routes, request, self._policy, _complete, self._probe, "complete")

    async def embed(self, routes: Sequence[Route], request: EmbeddingRequest) -> Embeddings:
        """One vector per text, in order, by the embedding model's route and fallbacks."""
        with provider_errors():
            return await _once(routes, request, self._policy, _embed, self._probe, "embed")

    async def stream(
        self, routes: Sequence[Route], request: ModelRequest
    ) -> AsyncGenerator[TextDelta | Completion]:
        """Text deltas as they arrive, then exactly one `Completion`."""
        with provider_errors():
            async for item in _stream(routes, request, self._policy, self._probe):
                yield item
