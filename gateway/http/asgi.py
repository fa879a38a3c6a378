"""The ASGI entry: the Litestar app, with the fast paths of the doors in front of it.

A fast path answers the everyday request of one route as plain ASGI and hands anything else to the
framework (`handoff`), so that every other answer, every error of it included, comes from the one
framework route.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Protocol

from litestar import Litestar
from litestar.types import ASGIApp, HTTPScope, Receive, Scope, Send


class FastPath(Protocol):
    def takes(self, scope: HTTPScope) -> bool:
        """Whether this path may answer the request (by its method, path and query string)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send, handoff: ASGIApp) -> None:
        """Answer, or hand the request (its body replayed) to `handoff`, the framework."""


class Gateway(Litestar):
    """The Litestar app; requests a fast path takes are answered by it first."""

    def __init__(self, *, fast: Sequence[FastPath] = (), **config: Any) -> None:
        super().__init__(**config)
        self._fast = tuple(fast)
        self._framework: ASGIApp = functools.partial(Litestar.__call__, self)

    @property
    def fast_paths(self) -> tuple[FastPath, ...]:
        return self._fast

    @property
    def framework(self) -> ASGIApp:
        """The Litestar app alone, behind the fast paths: what they hand requests to."""
        return self._framework

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            for path in self._fast:
                if path.takes(scope):
                    await path(scope, receive, send, self._framework)
                    return
        await self._framework(scope, receive, send)
