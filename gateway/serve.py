"""Serving the gateway with uvicorn, as configured by the environment (`python -m gateway`).

With several workers, each worker process listens on a socket of its own bound with
`SO_REUSEPORT`, so that the kernel spreads new connections over the workers by their addresses.
With one shared listening socket, the worker that wakes first accepts every pending connection
(the event loop accepts in a loop), and a burst of keep-alive connections lands mostly on one
worker while the others idle. uvicorn's own supervisor still starts, watches and stops the workers.

Each worker serves HTTP/1.1 with `gateway.http.server.LimitedHttpProtocol`: uvicorn's httptools
protocol with bounds on a request's head, on the time to read it and its body, and with its own
refusals in the Freddy envelope (the limits are settings, `GATEWAY_HTTP_*`).
"""

from __future__ import annotations

import contextlib
import socket
import sys
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess, multiprocess

from gateway.http.server import HttpLimits, ServerConfig
from gateway.settings import Settings, load_settings

APP = "gateway.app:create_app_from_env"


def server_config(settings: Settings) -> ServerConfig:
    """uvicorn's configuration for these settings (the HTTP protocol and its limits included)."""
    options: dict[str, Any] = {
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "log_level": "warning",
        "access_log": False,
        "loop": "uvloop",
        # The requests in flight get the grace the turns are bounded by (gateway.core.shutdown).
        "timeout_graceful_shutdown": settings.shutdown_grace_s,
    }
    return ServerConfig(APP, limits=HttpLimits.from_settings(settings), **options)


def listen(host: str, port: int, *, reuse_port: bool, backlog: int = 2048) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


class _OwnSocketWorker(multiprocess.Process):
    """A uvicorn worker that listens on its own `SO_REUSEPORT` socket instead of an inherited one."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # runs in the worker
        own = listen(self.config.host, self.config.port, reuse_port=True, backlog=self.config.backlog)
        super().target([own])


def main() -> None:
    settings = load_settings()
    config = server_config(settings)
    if settings.workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        # What `uvicorn.run` does with one process, given a configuration of our own.
        server = uvicorn.Server(config)
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
        if not server.started:
            sys.exit(STARTUP_FAILURE)
        return
    # The address must be free (a plain bind, closed at once): workers that could not bind would
    # only be restarted again and again by the supervisor.
    listen(settings.host, settings.port, reuse_port=False).close()
    multiprocess.Process = _OwnSocketWorker  # type: ignore[misc]  # the supervisor makes its workers with it
    Multiprocess(config, sockets=[]).run()
