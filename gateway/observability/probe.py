"""What the core and the store report while they work: provider calls, turns, store operations and
response-cache look-ups, as metrics and (when tracing is on) spans.

`Probe()` with nothing reports nothing (tests that build the parts alone); the app gives each part
the one probe of its metrics and tracer. Without a tracer no tracing code runs: the store's timed
operations are plain timers, and a call's attempt makes no span.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any

from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer
from prometheus_client import Counter

from gateway.observability.metrics import CallMetrics, Metrics

# The door of the request being served (set by `gateway.http.asgi` when metrics are kept): the
# core counts turns by door without knowing doors.
DOOR: ContextVar[str] = ContextVar("gateway_door", default="other")

_clock = time.perf_counter


class Attempt:
    """One provider call being made: `done` with its tokens, or `failed` with its error code; the
    first of them counts, later ones do nothing."""

    __slots__ = ("_calls", "_metrics", "_over", "_span", "_started")

    def __init__(self, metrics: Metrics | None, calls: CallMetrics | None, span: Span | None) -> None:
        self._metrics = metrics
        self._calls = calls
        self._span = span
        self._started = _clock()
        self._over = False

    def done(self, input_tokens: int, output_tokens: int = 0) -> None:
        if self._over:
            return
        self._over = True
        calls = self._calls
        if calls is not None:
            calls.seconds.observe(_clock() - self._started)
            if input_tokens:
                calls.input_tokens.inc(input_tokens)
            if output_tokens:
                calls.output_tokens.inc(output_tokens)
        span = self._span
        if span is not None:
            span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
            span.end()

    def failed(self, code: str) -> None:
        """The call failed with the gateway's error `code` (PROVIDER_ERROR, RATE_LIMITED, ...)."""
        if self._over:
            return
        self._over = True
        calls, m = self._calls, self._metrics
        if calls is not None and m is not None:
            calls.seconds.observe(_clock() - self._started)
            m.provider_errors.labels(*calls.labels, code).inc()
        span = self._span
        if span is not None:
            span.set_attribute("error.type", code)
            span.set_status(StatusCode.ERROR)
            span.end()


class Probe:
    """The reports of one app: `metrics` (None: none kept) and `tracer` (None: tracing off)."""

    def __init__(self, metrics: Metrics | None = None, tracer: Tracer | None = None) -> None:
        self.metrics = metrics
        self.tracer = tracer
        # The turn counter's children by (door, outcome): at most five of each.
        self._turns: dict[tuple[str, str], Counter] = {}

    # -- provider calls ---------------------------------------------------------------------------

    def attempt(self, provider: str, model: str, *, operation: str, retry: bool, fallback: bool) -> Attempt:
        """An attempt starts: counted (a retry, a fallback), and a span started when tracing."""
        m = self.metrics
        calls = None
        if m is not None:
            calls = m.calls(provider, model)
            calls.calls.inc()
            if retry:
                calls.retries.inc()
            if fallback:
                calls.fallbacks.inc()
        span = None
        if self.tracer is not None:
            span = self.tracer.start_span(
                f"provider {operation}",
                kind=SpanKind.CLIENT,
                attributes={
                    "gen_ai.system": provider,
                    "gen_ai.operation.name": operation,
                    "gen_ai.request.model": model,
                    "gateway.provider.retry": retry,
                    "gateway.provider.fallback": fallback,
                },
            )
        return Attempt(m, calls, span)

    # -- turns and the cache ----------------------------------------------------------------------

    def turn(self, outcome: str) -> None:
        """A turn ended: completed, cancelled, failed (after the model was asked), refused (before),
        or abandoned (the client left a stream)."""
        if self.metrics is not None:
            key = (DOOR.get(), outcome)
            child = self._turns.get(key)
            if child is None:
                child = self._turns[key] = self.metrics.turns.labels(*key)
            child.inc()

    def cache(self, result: str) -> None:
        """A response-cache look-up: hit, miss or stale."""
        if self.metrics is not None:
            self.metrics.cache.labels(result).inc()

    # -- store operations -------------------------------------------------------------------------

    def timed[**P, T](
        self, operation: str, backend: str, call: Callable[P, Coroutine[Any, Any, T]]
    ) -> Callable[P, Coroutine[Any, Any, T]]:
        """`call` timed as the store operation `operation` (and traced as a span when tracing)."""
        m, tracer = self.metrics, self.tracer
        if m is None and tracer is None:
            return call
        observe = m.store_seconds.labels(operation).observe if m is not None else None
        if tracer is None:
            assert observe is not None

            async def timed(*args: P.args, **kwargs: P.kwargs) -> T:
                started = _clock()
                try:
                    return await call(*args, **kwargs)
                finally:
                    observe(_clock() - started)

            return timed
        name = f"store {operation}"
        attributes: dict[str, Any] = {"db.system.name": backend, "db.operation.name": operation}

        async def traced(*args: P.args, **kwargs: P.kwargs) -> T:
            started = _clock()
            with tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes):
                try:
                    return await call(*args, **kwargs)
                finally:
                    if observe is not None:
                        observe(_clock() - started)

        return traced


NO_PROBE = Probe()
