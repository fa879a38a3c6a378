"""The ASGI entry: the Litestar app, with the fast paths of the doors in front of it.

A fast path answers the everyday request of one route as plain ASGI and hands anything else to the
framework (`handoff`), so that every other answer, every error of it included, comes from the one
framework route.

Every HTTP request is counted here, around both the fast paths and the framework (`Metrics`): by
door, by route template (a fast path's one fixed path, else the framework's template once it has
routed the request, else `unmatched`; never the raw path) and by status, with its duration. With a
tracer (an OTLP endpoint configured) each request is also the span the turn's store and provider
spans hang under; without one, no tracing code runs.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from time import perf_counter
from typing import Any, Protocol

from litestar import Litestar
from litestar.types import ASGIApp, HTTPScope, Receive, Scope, Send
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, StatusCode, Tracer

from gateway.http.context import request_id
from gateway.observability.metrics import UNMATCHED, Metrics, door_of
from gateway.observability.probe import DOOR


class FastPath(Protocol):
    def takes(self, scope: HTTPScope) -> bool:
        """Whether this path may answer the request (by its method, path and query string)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send, handoff: ASGIApp) -> None:
        """Answer, or hand the request (its body replayed) to `handoff`, the framework."""


class Gateway(Litestar):
    """The Litestar app; requests a fast path takes are answered by it first."""

    def __init__(
        self,
        *,
        fast: Sequence[FastPath] = (),
        metrics: Metrics | None = None,
        tracer: Tracer | None = None,
        **config: Any,
    ) -> None:
        super().__init__(**config)
        self._fast = tuple(fast)
        self._framework: ASGIApp = functools.partial(Litestar.__call__, self)
        self._metrics = metrics
        self._tracer = tracer

    @property
    def fast_paths(self) -> tuple[FastPath, ...]:
        return self._fast

    @property
    def framework(self) -> ASGIApp:
        """The Litestar app alone, behind the fast paths: what they hand requests to."""
        return self._framework

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._framework(scope, receive, send)
            return
        metrics = self._metrics
        if self._tracer is not None:
            await self._traced(scope, receive, send)
            return
        if metrics is None:
            for path in self._fast:
                if path.takes(scope):
                    await path(scope, receive, send, self._framework)
                    return
            await self._framework(scope, receive, send)
            return
        # The hot path: the loop above, inline (no await more), timed and counted.
        raw = scope["path"]
        door = door_of(raw)
        DOOR.set(door)
        started = perf_counter()
        fast: str | None = None
        try:
            for path in self._fast:
                if path.takes(scope):
                    fast = raw  # a fast path's route is its one fixed path
                    await path(scope, receive, send, self._framework)
                    break
            else:
                await self._framework(scope, receive, send)
        finally:
            state = scope.get("state")
            metrics.request(
                door,
                scope.get("path_template") or fast or UNMATCHED,
                state.get("status") if state else None,
                perf_counter() - started,
            )

    async def _traced(self, scope: Any, receive: Any, send: Any) -> None:
        """A request as the span of its door (its parent from a `traceparent` header if any)."""
        assert self._tracer is not None
        raw, method = scope["path"], scope["method"]
        door = door_of(raw)
        DOOR.set(door)
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        with self._tracer.start_as_current_span(
            method,
            context=propagate.extract(carrier),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "gateway.door": door},
            record_exception=False,
        ) as span:
            started = perf_counter()
            fast: str | None = None
            try:
                for path in self._fast:
                    if path.takes(scope):
                        fast = raw
                        await path(scope, receive, send, self._framework)
                        break
                else:
                    await self._framework(scope, receive, send)
            finally:
                state = scope.get("state")
                status = state.get("status") if state else None
                route = scope.get("path_template") or fast or UNMATCHED
                if self._metrics is not None:
                    self._metrics.request(door, route, status, perf_counter() - started)
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("gateway.request_id", request_id(scope))
                if status is not None:
                    span.set_attribute("http.response.status_code", status)
                if status is None or status >= 500:
                    span.set_status(StatusCode.ERROR)
