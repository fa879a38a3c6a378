"""The gateway as its users run it (`python -m gateway`), in a process of its own, for a client whose
environment cannot import it; and a stand-in OpenAI-compatible model server that records what it is
sent (standard library only: this environment has none of the main project's test fakes)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).parent
KEY, ORG = "ak_legacy_freddy_0123456789", "org_legacy"
OTHER_KEY, OTHER_ORG = "ak_legacy_other_9876543210", "org_legacy_other"
REPLY = "Hello from the fake"


def gateway_python() -> str:
    """`GATEWAY_PYTHON`, else the main project's interpreter. Not `resolve()`d: the venv's `python` is
    a symlink, and the venv is what makes `gateway` importable."""
    return os.environ.get("GATEWAY_PYTHON") or os.path.abspath(HERE / "../../../.venv/bin/python")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Gateway:
    """One `python -m gateway` process on a free loopback port, with two keys of two organizations."""

    def __init__(self, workdir: Path, extra: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "gateway.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env.update(
            GATEWAY_HOST="127.0.0.1",
            GATEWAY_PORT=str(self.port),
            GATEWAY_DATA_DIR=str(workdir / "data"),
            GATEWAY_API_KEYS=f"{KEY}={ORG},{OTHER_KEY}={OTHER_ORG}",
            **(extra or {}),
        )
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [gateway_python(), "-m", "gateway"],
                cwd=workdir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gateway did not become ready: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """A plain HTTP call with the key: how the tests read what the SDK's calls left behind."""
        headers = {"X-API-Key": KEY, **kw.pop("headers", {})}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=10, **kw)

    def json(self, method: str, path: str, **kw: Any) -> Any:
        r = self.request(method, path, **kw)
        assert r.status_code in (200, 201), (r.status_code, r.text[:500])
        return r.json()


@contextmanager
def running_gateway(workdir: Path, extra: dict[str, str] | None = None) -> Iterator[Gateway]:
    workdir.mkdir(parents=True, exist_ok=True)
    gateway = Gateway(workdir, extra)
    try:
        gateway.wait_ready()
        yield gateway
    finally:
        gateway.stop()


class Upstream:
    """An OpenAI-compatible `POST /v1/chat/completions` answering `REPLY` (JSON, 11 + 7 tokens) and
    keeping every request body, in order."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                body = json.loads(raw or b"{}")
                with upstream._lock:
                    upstream.bodies.append(body)
                answer = {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "model"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": REPLY},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
                }
                data = json.dumps(answer).encode()
                self.send_response(200 if self.path.endswith("/chat/completions") else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Upstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def since(self, count: int) -> list[dict[str, Any]]:
        """The bodies received after the first `count`."""
        with self._lock:
            return self.bodies[count:]
