"""The server (gateway.serve, gateway.http.server): each worker its own SO_REUSEPORT socket, a taken
port refused, the HTTP protocol and its limits from the settings, and the protocol's bookkeeping
that the socket tests cannot reach (pipelining, deadlines moved by steady traffic), driven in
process through a transport that records what is written."""

from __future__ import annotations

import asyncio
import pickle
import socket
from collections.abc import Callable
from typing import Any

import pytest
from uvicorn.server import ServerState

from gateway.http.server import HttpLimits, LimitedHttpProtocol, ServerConfig
from gateway.serve import listen, server_config
from gateway.settings import SettingsError, load_settings
from tests.fakes.server import eventually

GET = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def test_workers_share_a_port_through_their_own_sockets() -> None:
    first = listen("127.0.0.1", 0, reuse_port=True)
    port = first.getsockname()[1]
    try:
        second = listen("127.0.0.1", port, reuse_port=True)
        try:
            assert second.getsockname()[1] == port
            assert second.fileno() != first.fileno()
        finally:
            second.close()
    finally:
        first.close()


def test_a_port_held_by_another_program_is_refused_before_any_worker_starts() -> None:
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    other.listen()
    try:
        with pytest.raises(OSError):
            listen("127.0.0.1", other.getsockname()[1], reuse_port=False)
    finally:
        other.close()


def test_the_server_serves_the_limited_protocol_with_the_settings_limits_in_every_worker() -> None:
    env = {
        "GATEWAY_WORKERS": "2",
        "GATEWAY_HTTP_MAX_HEADER_BYTES": "4096",
        "GATEWAY_HTTP_MAX_HEADERS": "50",
        "GATEWAY_HTTP_HEADER_TIMEOUT_S": "3.5",
        "GATEWAY_HTTP_KEEPALIVE_S": "2",
        "GATEWAY_HTTP_BODY_TIMEOUT_S": "12",
        "GATEWAY_SHUTDOWN_GRACE_S": "7",
    }
    config = server_config(load_settings(env))
    expected = HttpLimits(
        max_header_bytes=4096, max_headers=50, header_timeout_s=3.5, keepalive_s=2.0, body_timeout_s=12.0
    )
    # Each worker process gets the configuration pickled.
    for copy in (config, pickle.loads(pickle.dumps(config))):
        assert isinstance(copy, ServerConfig)
        assert copy.http is LimitedHttpProtocol
        assert copy.limits == expected
        assert (copy.loop, copy.workers, copy.factory) == ("uvloop", 2, True)
        assert copy.timeout_graceful_shutdown == 7


def test_the_http_limits_have_safe_defaults() -> None:
    assert HttpLimits.from_settings(load_settings({})) == HttpLimits(
        max_header_bytes=16_384, max_headers=100, header_timeout_s=10.0, keepalive_s=5.0, body_timeout_s=30.0
    )


@pytest.mark.parametrize(
    "var",
    [
        "GATEWAY_HTTP_MAX_HEADER_BYTES",
        "GATEWAY_HTTP_MAX_HEADERS",
        "GATEWAY_HTTP_HEADER_TIMEOUT_S",
        "GATEWAY_HTTP_KEEPALIVE_S",
        "GATEWAY_HTTP_BODY_TIMEOUT_S",
    ],
)
def test_an_http_limit_must_be_positive(var: str) -> None:
    with pytest.raises(SettingsError):
        load_settings({var: "0"})


async def answer_ok(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    """The app behind the protocol: reads the body, waits a little (answers overlap), says ok."""
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await asyncio.sleep(0.01)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


class Recorder(asyncio.Transport):
    """A connection's transport that keeps what is written and reports its close like a socket's."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False
        self.half_closed = False
        self.protocol: asyncio.Protocol | None = None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50_000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        if not self.closed and self.protocol is not None:
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)
        self.closed = True

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.half_closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def connection(limits: HttpLimits) -> tuple[LimitedHttpProtocol, Recorder]:
    config = ServerConfig("tests.unit.test_serve:answer_ok", limits=limits, log_level="warning")
    config.load()
    protocol = LimitedHttpProtocol(config, ServerState(), {}, asyncio.get_running_loop())
    transport = Recorder()
    transport.protocol = protocol
    protocol.connection_made(transport)
    return protocol, transport


async def test_pipelined_requests_are_answered_before_a_refused_head_ends_the_connection() -> None:
    protocol, transport = connection(HttpLimits(max_header_bytes=512))
    too_large = b"GET /health HTTP/1.1\r\nX-Padding: " + b"p" * 1024 + b"\r\n\r\n"
    protocol.data_received(GET + GET + too_large)
    assert await eventually(lambda: transport.closed, timeout_s=2.0)
    written = bytes(transport.written)
    # Both answers whole and in order, the second one closing; nothing interleaved with them.
    assert written.count(b"HTTP/1.1 200 OK") == 2
    assert written.endswith(b"connection: close\r\n\r\nok")
    assert b"431" not in written


async def test_steady_traffic_moves_the_deadline_and_the_connection_closes_only_when_idle() -> None:
    protocol, transport = connection(HttpLimits(header_timeout_s=0.15, keepalive_s=0.1))
    for _ in range(12):  # 0.36 s and more: past the first wait's deadline and past the keep-alive
        protocol.data_received(GET)
        await asyncio.sleep(0.03)
    assert not transport.closed
    assert bytes(transport.written).count(b"HTTP/1.1 200 OK") == 12
    assert await eventually(lambda: transport.closed, timeout_s=1.0)
    assert bytes(transport.written).count(b"HTTP/1.1") == 12  # closed without a word


async def test_a_body_slower_than_its_timeout_leaves_the_waiting_app_a_disconnect() -> None:
    protocol, transport = connection(HttpLimits(body_timeout_s=0.1))
    protocol.data_received(b"POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\nabc")
    assert await eventually(lambda: transport.half_closed, timeout_s=2.0)
    await asyncio.sleep(0.05)  # the app, told the client left, would answer now
    written = bytes(transport.written)
    assert written.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b'"code":"REQUEST_TIMEOUT"' in written
    assert written.count(b"HTTP/1.1 ") == 1  # the app's own answer was dropped


async def test_a_head_uvicorn_cannot_read_after_an_answered_request_still_gets_its_400() -> None:
    protocol, transport = connection(HttpLimits())
    protocol.data_received(GET)
    assert await eventually(lambda: b"ok" in transport.written, timeout_s=2.0)
    protocol.data_received(b"GET http://[::1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = bytes(transport.written).split(b"\r\n\r\nok", 1)[1]
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b'"reason":"Invalid request target"' in answer
    assert b"[::1" not in answer  # the input is not echoed
    assert transport.half_closed
