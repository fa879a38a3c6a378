"""Serving an ASGI app (a fake upstream, a whole gateway) on loopback in a thread of its own.

`serve(app)` runs it under uvicorn on a free port of 127.0.0.1, with its own event loop, so that it
answers whichever event loop the code under test runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn


async def eventually(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """Whether `predicate` holds within `timeout_s` (the fake's server thread records calls as they
    happen, e.g. a connection the client closed)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return bool(predicate())


class ServerThread:
    """uvicorn serving one ASGI app on 127.0.0.1 in a daemon thread with its own event loop."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0, lifespan: str = "off") -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan=lifespan,  # type: ignore[arg-type]
            loop="asyncio",
            http="h11",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"fake-upstream-{self.port}", daemon=True)
        self._failure: BaseException | None = None
        self._lifespan = lifespan != "off"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[self._sock]))
        except BaseException as exc:  # noqa: BLE001 - reported by start() / stop()
            self._failure = exc

    def start(self, timeout_s: float = 10.0) -> str:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if self._failure is not None or not self._thread.is_alive():
                raise RuntimeError(f"fake server failed to start: {self._failure!r}")
            if time.monotonic() > deadline:
                raise TimeoutError("fake server did not start")
            time.sleep(0.005)
        return self.url

    def stop(self) -> None:
        self._server.should_exit = True
        # Without a lifespan nothing needs a clean shutdown: streams left stalling must not hold the
        # test run. With one, uvicorn would skip the app's shutdown (stores left open), so it gets
        # the graceful shutdown, bounded by `timeout_graceful_shutdown`.
        self._server.force_exit = not self._lifespan
        self._thread.join(10)
        self._sock.close()


@contextlib.contextmanager
def serve(app: Any, *, lifespan: str = "off") -> Iterator[str]:
    """Serve `app` on a free loopback port for the block; yields its base URL.

    `lifespan="on"` runs the app's startup and shutdown (a whole gateway, for instance)."""
    server = ServerThread(app, lifespan=lifespan)
    try:
        yield server.start()
    finally:
        server.stop()
