"""Real services for the tests: a MongoDB wire server and a redis-server, started on free ports.

`GATEWAY_TEST_MONGODB_URI` and `GATEWAY_TEST_REDIS_URL` point the tests at real servers instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from mongoeco.wire.proxy import AsyncMongoEcoProxyServer


@asynccontextmanager
async def mongo_uri() -> AsyncIterator[str]:
    """A MongoDB URI: the real server of GATEWAY_TEST_MONGODB_URI, else mongoeco's wire server."""
    real = os.environ.get("GATEWAY_TEST_MONGODB_URI")
    if real:
        yield real
        return
    async with AsyncMongoEcoProxyServer() as server:
        yield server.address.uri


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """A private redis-server (no persistence) that tests may stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="gw-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


@contextmanager
def redis_url() -> Iterator[str]:
    real = os.environ.get("GATEWAY_TEST_REDIS_URL")
    if real:
        yield real
        return
    server = RedisServer()
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)
