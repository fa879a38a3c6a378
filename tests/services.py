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
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
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


class ThreadedMongo:
    """mongoeco's wire server on its own event loop thread, for a whole test session."""

    def __init__(self, port: int = 0) -> None:
        import asyncio
        import threading

        self._port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mongoeco", daemon=True)
        self._server: AsyncMongoEcoProxyServer | None = None

    def start(self) -> str:
        import asyncio

        self._thread.start()

        async def boot() -> str:
            self._server = AsyncMongoEcoProxyServer(port=self._port)
            address = await self._server.start()
            return address.uri

        return asyncio.run_coroutine_threadsafe(boot(), self._loop).result(30)

    def stop(self) -> None:
        import asyncio

        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.close(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


_MONGO_MAIN = """
import asyncio, sys
from mongoeco.wire.proxy import AsyncMongoEcoProxyServer

async def main():
    async with AsyncMongoEcoProxyServer(port=int(sys.argv[1])) as server:
        print(server.address.uri, flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


class MongoProcess:
    """mongoeco's wire server in a process of its own, so that a test can kill it like a real outage."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> str:
        import sys

        self.proc = subprocess.Popen(
            [sys.executable, "-c", _MONGO_MAIN, str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        uri = self.proc.stdout.readline().strip()
        if not uri:
            raise RuntimeError("mongoeco server did not start")
        return uri

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None
