"""What the fast-path tests of every door share: the gateway's entry as built with one door's fast
path in front of the framework, and the framework counting what that path hands it."""

from __future__ import annotations

from typing import Any


class Counting:
    """The framework behind the fast path, counting what it is handed."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        await self.app(scope, receive, send)


class Front:
    """The gateway's entry as built, the fast path that takes `POST path` in front, with what it
    hands over counted (`framework.calls`)."""

    def __init__(self, app: Any, path: str) -> None:
        self.app = app
        probe = {"type": "http", "path": path, "method": "POST", "query_string": b"", "headers": []}
        self.fast = next(f for f in app.fast_paths if f.takes(probe))
        self.framework = Counting(app.framework)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.fast.takes(scope):
            await self.fast(scope, receive, send, self.framework)
        else:
            await self.app(scope, receive, send)
