"""Serving the gateway with uvicorn, as configured by the environment (`python -m gateway`).

With several workers, each worker process listens on a socket of its own bound with
`SO_REUSEPORT`, so that the kernel spreads new connections over the workers by their addresses.
With one shared listening socket, the worker that wakes first accepts every pending connection
(the event loop accepts in a loop), and a burst of keep-alive connections lands mostly on one
worker while the others idle. uvicorn's own supervisor still starts, watches and stops the workers.

Each worker serves HTTP/1.1 with `gateway.http.server.LimitedHttpProtocol`: uvicorn's httptools
protocol with bounds on a request's head, on the time to read it and its body, and with its own
refusals in the Freddy envelope (the limits are settings, `GATEWAY_HTTP_*`).

With several workers the Prometheus metrics are kept in the library's multiprocess mode: before
any worker starts, `PROMETHEUS_MULTIPROC_DIR` names a directory fresh for this run (the one given,
emptied of an earlier run's files, else a temporary one removed at exit), where every worker keeps
its values and from which any worker's `/metrics` sums them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import sys
import tempfile
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess, multiprocess

from gateway.cli import stored_key_count
from gateway.http.server import HttpLimits, ServerConfig
from gateway.settings import Settings, SettingsError, load_settings
from providers.config import ConfigError, load_config
from providers.table import configured_names

APP = "gateway.app:create_app_from_env"
# prometheus-client's own variable (gateway.observability.metrics reads it in each worker).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


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


def startup_line(settings: Settings, stored_keys: int | None = 0) -> str:
    """What the gateway serves, on one line: its address, store, cache, providers and the number
    of API keys (never a key): the environment's and the live ones of the store (None: the store
    could not be asked)."""
    store = (
        "mongodb" if settings.mongodb_uri else f"sqlite {os.path.join(settings.data_dir, 'gateway.sqlite3')}"
    )
    if settings.redis_url:
        cache = "redis"
    else:
        cache = "in-process" if settings.workers == 1 and not settings.mongodb_uri else "none"
    names = configured_names(settings.provider_settings(), load_config(settings.config_file))
    keys = len(settings.api_keys) + (stored_keys or 0)
    counted_keys = f"{keys} API key{'s' if keys != 1 else ''}"
    if stored_keys is None:
        counted_keys += " (the store's not counted: it did not answer)"
    elif stored_keys:
        counted_keys += f" ({len(settings.api_keys)} from GATEWAY_API_KEYS, {stored_keys} in the store)"
    limits = [
        f"{n} {unit} a minute"
        for n, unit in ((settings.rate_limit_rpm, "requests"), (settings.rate_limit_tpm, "tokens"))
        if n is not None
    ]
    counted = "redis" if settings.redis_url else "the store"
    rate = f"; rate limits per key: {', '.join(limits)} (counted in {counted})" if limits else ""
    return (
        f"gateway: listening on http://{settings.host}:{settings.port} with {settings.workers} "
        f"worker{'s' if settings.workers != 1 else ''}; store {store}; cache {cache}; "
        f"providers {', '.join(names)}; {counted_keys}{rate}"
    )


NO_KEYS = (
    "gateway: WARNING: no API key is configured, so every request but /health answers 401. "
    'Set GATEWAY_API_KEYS="key=organization_id" (for example GATEWAY_API_KEYS="ak_dev_123=org_dev"), '
    "or make one with `python -m gateway keys create --org ORG`."
)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class _Supervisor(Multiprocess):
    """uvicorn's supervisor, saying on standard error when a worker stopped and was replaced (its
    own lines are below the gateway's log level)."""

    def keep_subprocess_alive(self) -> None:
        before = list(self.processes)
        super().keep_subprocess_alive()
        for old, new in zip(before, self.processes, strict=True):
            if new is not old:
                how = _ended(old.exitcode)
                _say(f"gateway: worker [{old.pid}] stopped ({how}); worker [{new.pid}] started")
                _metrics_gone(old.pid)
        if self.should_exit.is_set():
            for old in before:
                if old.exitcode == STARTUP_FAILURE:
                    _say(f"gateway: worker [{old.pid}] failed to start; stopping")


def _metrics_gone(pid: int | None) -> None:
    """A dead worker's live gauges leave the scrape; its counts stay in the sums."""
    if pid is None or not os.environ.get(MULTIPROC_ENV):
        return
    from prometheus_client import multiprocess as prometheus_multiprocess

    prometheus_multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def metrics_dir() -> tuple[str, bool]:
    """The multiprocess metrics directory of this run, set in the environment the workers inherit,
    and whether it was made here (then removed at exit). A directory given is emptied of the
    files an earlier run left: their counts would be summed with this run's."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        os.makedirs(given, exist_ok=True)
        for old in glob.glob(os.path.join(given, "*.db")):
            os.remove(old)
        return given, False
    made = tempfile.mkdtemp(prefix="gateway-metrics-")
    os.environ[MULTIPROC_ENV] = made
    return made, True


def _ended(code: int | None) -> str:
    if code is None:
        return "hung, killed"
    if code < 0:
        return f"signal {-code}"
    return f"exit code {code}"


def main() -> None:
    try:
        settings = load_settings()
        line = startup_line(settings)
    except (SettingsError, ConfigError) as exc:
        for mistake in getattr(exc, "mistakes", None) or (str(exc),):
            _say(f"gateway: setting error: {mistake}")
        sys.exit(2)
    config = server_config(settings)
    # The address must be free (a plain bind, closed at once): a worker that could not bind would
    # only be restarted again and again by the supervisor, and one process would print a traceback.
    try:
        listen(settings.host, settings.port, reuse_port=False).close()
    except OSError as exc:
        _say(f"gateway: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}")
        sys.exit(STARTUP_FAILURE)
    stored = stored_key_count(settings)
    if stored != 0:
        line = startup_line(settings, stored)
    _say(line)
    if not settings.api_keys and stored == 0:
        _say(NO_KEYS)
    if settings.workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        if os.environ.get(MULTIPROC_ENV):  # the operator's choice: kept, but fresh for this run
            metrics_dir()
        # What `uvicorn.run` does with one process, given a configuration of our own.
        server = uvicorn.Server(config)
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
        if not server.started:
            sys.exit(STARTUP_FAILURE)
        return
    multiprocess.Process = _OwnSocketWorker  # type: ignore[misc]  # the supervisor makes its workers with it
    directory, made = metrics_dir()
    try:
        _Supervisor(config, sockets=[]).run()
    finally:
        if made:
            shutil.rmtree(directory, ignore_errors=True)
