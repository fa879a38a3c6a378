"""Shutting down without cutting answers off (SIGTERM, SIGINT).

The server stops taking connections and gives the requests in flight `GATEWAY_SHUTDOWN_GRACE_S` to
finish (uvicorn's `timeout_graceful_shutdown`, set from the same setting). A turn still running
shortly before that would be cancelled mid-answer: instead its model call is stopped
`STOP_BEFORE_S` earlier, so that a stream ends with `response.failed` (and a plain turn answers
503) with nothing saved, and the client learns that it may retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable
from types import FrameType
from typing import Any

from gateway.errors import ShuttingDown

GRACE_S = 10.0
STOP_BEFORE_S = 1.5


class Shutdown:
    """The process's shutdown, as the turns running in it see it."""

    def __init__(self, *, grace_s: float = GRACE_S, stop_before_s: float = STOP_BEFORE_S) -> None:
        self._after_s = max(grace_s - stop_before_s, 0.0)
        self._bounds: set[asyncio.Timeout] = set()
        self._stop_at: float | None = None

    @property
    def begun(self) -> bool:
        return self._stop_at is not None

    def left_s(self) -> float:
        """What is left of the grace for work that must stop before the process ends (the job
        runner's handlers): until the deadline once shutdown has begun, else the whole of it."""
        if self._stop_at is None:
            return self._after_s
        return max(self._stop_at - asyncio.get_running_loop().time(), 0.0)

    def begin(self) -> None:
        """Shutdown started: every turn running now, or starting later, stops by the deadline."""
        if self._stop_at is not None:
            return
        self._stop_at = asyncio.get_running_loop().time() + self._after_s
        for bound in self._bounds:
            bound.reschedule(self._stop_at)

    @contextlib.asynccontextmanager
    async def bound(self) -> AsyncIterator[None]:
        """The model call of a turn: stopped (`ShuttingDown`) when the shutdown's deadline comes."""
        bound = asyncio.timeout_at(self._stop_at)
        self._bounds.add(bound)
        try:
            async with bound:
                yield
        except TimeoutError:
            if bound.expired():
                raise ShuttingDown() from None
            raise
        finally:
            self._bounds.discard(bound)

    def install(self) -> Callable[[], None]:
        """Chain SIGTERM and SIGINT to `begin`, keeping the server's own handlers; returns the undo."""
        loop = asyncio.get_running_loop()
        previous: dict[int, Any] = {}

        def handler(signum: int, frame: FrameType | None) -> None:
            loop.call_soon_threadsafe(self.begin)
            before = previous.get(signum)
            if callable(before):
                before(signum, frame)

        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.getsignal(signum)
            signal.signal(signum, handler)

        def undo() -> None:
            for signum, before in previous.items():
                if signal.getsignal(signum) is handler:
                    signal.signal(signum, before)

        return undo
