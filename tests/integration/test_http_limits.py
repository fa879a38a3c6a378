"""The HTTP server's own limits (gateway.http.server), on the real server (`python -m gateway`) and a
real port, through raw sockets: a request head over its size or count is refused with 431, a head or
a body read too slowly with 408, an idle connection is closed, and the parser's refusals are the
Freddy envelope with `X-Request-ID`, while ordinary requests and keep-alive still work."""

from __future__ import annotations

import json
import selectors
import socket
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx
import pytest

from tests.conftest import KEY_A, user
from tests.gateway_process import GatewayProcess, start_gateway

MAX_HEADER_BYTES = 2048
MAX_HEADERS = 20
HEADER_TIMEOUT_S = 2.0
KEEPALIVE_S = 0.5
BODY_TIMEOUT_S = 1.0
# Scheduling slack on a loaded machine: a deadline is met within it.
SLACK_S = 1.0

LIMITS = {
    "GATEWAY_HTTP_MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
    "GATEWAY_HTTP_MAX_HEADERS": str(MAX_HEADERS),
    "GATEWAY_HTTP_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
    "GATEWAY_HTTP_KEEPALIVE_S": str(KEEPALIVE_S),
    "GATEWAY_HTTP_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
}


class Answer(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_s: float

    def envelope(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    work = tmp_path_factory.mktemp("limits")
    process = start_gateway(work / "data", work / "gateway.log", LIMITS)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    work = tmp_path_factory.mktemp("limits2")
    process = start_gateway(work / "data", work / "gateway.log", {**LIMITS, "GATEWAY_WORKERS": "2"})
    yield process
    process.stop()


def connect(gw: GatewayProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_answer(sock: socket.socket, started: float, timeout_s: float = 10.0) -> Answer:
    """One answer framed by its Content-Length (every answer of the gateway has one)."""
    sock.settimeout(timeout_s)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed without an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "closed in the middle of an answer"
        body += chunk
    return Answer(int(status_line.split()[1]), headers, body, time.monotonic() - started)


def ends(sock: socket.socket, timeout_s: float) -> bool:
    """Whether the server ends the connection (EOF or reset) within `timeout_s`, sending nothing."""
    sock.settimeout(timeout_s)
    try:
        extra = sock.recv(65536)
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    assert extra == b"", extra
    return True


def exchange(gw: GatewayProcess, payload: bytes) -> tuple[Answer, bool]:
    with connect(gw) as sock:
        started = time.monotonic()
        sock.sendall(payload)
        answer = read_answer(sock, started)
        return answer, ends(sock, 2.0)


def assert_refusal(answer: Answer, status: int, code: str) -> dict[str, Any]:
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["connection"] == "close"
    envelope = answer.envelope()
    assert envelope["success"] is False
    error = envelope["error"]
    assert set(error) == {"code", "message", "type", "status", "details", "trace_id", "timestamp"}
    assert (error["code"], error["status"]) == (code, status)
    assert error["trace_id"] == answer.headers["x-request-id"]
    assert error["trace_id"].startswith("req_")
    return error


def log_lines(gw: GatewayProcess) -> list[dict[str, Any]]:
    lines = []
    for line in gw.log.read_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_a_head_over_the_byte_limit_is_refused_with_431_and_logged_without_its_headers(
    gateway: GatewayProcess,
) -> None:
    secret = "ak_live_do_not_log_" + "s" * 40
    big = {"X-API-Key": secret, "X-Padding": "p" * (MAX_HEADER_BYTES * 2)}
    answer, closed = exchange(gateway, request("GET", "/health", headers=big))
    error = assert_refusal(answer, 431, "HEADERS_TOO_LARGE")
    assert closed
    lines = [line for line in log_lines(gateway) if line.get("request_id") == error["trace_id"]]
    assert [(line["event"], line["status"], line["code"]) for line in lines] == [
        ("request", 431, "HEADERS_TOO_LARGE")
    ]
    assert secret not in gateway.log.read_text()


def test_a_header_line_that_never_ends_is_refused_once_past_the_limit(gateway: GatewayProcess) -> None:
    # The parser keeps a header until its line ends: the server must count the bytes as they come.
    with connect(gateway) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
        for _ in range(4 * MAX_HEADER_BYTES // 512):
            sock.sendall(b"e" * 512)
            time.sleep(0.01)
        answer = read_answer(sock, started)
        assert_refusal(answer, 431, "HEADERS_TOO_LARGE")
        assert answer.elapsed_s < HEADER_TIMEOUT_S  # refused for its size, not for its slowness
        assert ends(sock, 2.0)


def test_too_many_headers_are_refused_with_431(gateway: GatewayProcess) -> None:
    many = {f"X-H{i}": "v" for i in range(MAX_HEADERS + 5)}
    assert len(request("GET", "/health", headers=many)) < MAX_HEADER_BYTES  # within the byte limit
    answer, closed = exchange(gateway, request("GET", "/health", headers=many))
    assert_refusal(answer, 431, "HEADERS_TOO_LARGE")
    assert closed


def test_a_head_sent_a_byte_at_a_time_gets_408_within_the_header_timeout(gateway: GatewayProcess) -> None:
    selector = selectors.DefaultSelector()
    with connect(gateway) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        selector.register(sock, selectors.EVENT_READ)
        while not selector.select(0.2):
            assert time.monotonic() - started < HEADER_TIMEOUT_S + SLACK_S, "still open"
            sock.sendall(b"s")
        answer = read_answer(sock, started)
        assert_refusal(answer, 408, "REQUEST_TIMEOUT")
        assert HEADER_TIMEOUT_S - 0.1 <= answer.elapsed_s < HEADER_TIMEOUT_S + SLACK_S
        assert ends(sock, 2.0)


def test_connections_that_send_nothing_are_closed_after_the_header_timeout(gateway: GatewayProcess) -> None:
    socks = [connect(gateway) for _ in range(50)]
    started = time.monotonic()
    selector = selectors.DefaultSelector()
    for sock in socks:
        selector.register(sock, selectors.EVENT_READ)
    open_ = set(socks)
    try:
        while open_ and time.monotonic() - started < HEADER_TIMEOUT_S + SLACK_S:
            for key, _ in selector.select(0.1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                assert ends(sock, 1.0)  # closed, without a word
                selector.unregister(sock)
                open_.discard(sock)
        elapsed = time.monotonic() - started
        assert not open_, f"{len(open_)} of 50 still open after {elapsed:.1f} s"
        assert elapsed >= HEADER_TIMEOUT_S - 0.1
    finally:
        for sock in socks:
            sock.close()


def test_requests_reuse_one_connection_which_closes_when_idle_for_the_keepalive_timeout(
    gateway: GatewayProcess,
) -> None:
    headers = {"X-API-Key": KEY_A, "Content-Type": "application/json"}
    turn = json.dumps({"model": "echo", "inputs": [user("hello through the server")]}).encode()
    with connect(gateway) as sock:
        for payload in (request("GET", "/health"), request("POST", "/v1/model/response", turn, headers)) * 2:
            started = time.monotonic()
            sock.sendall(payload)
            answer = read_answer(sock, started)
            assert answer.status == 200, answer
            assert answer.headers.get("connection") != "close"
            assert answer.headers["x-request-id"]
        assert answer.envelope()["output"][0]["texts"][0]["text"].endswith("hello through the server")
        idle_from = time.monotonic()
        assert ends(sock, KEEPALIVE_S + SLACK_S)
        # The keep-alive timeout closed it, not the (longer) header timeout.
        assert KEEPALIVE_S - 0.1 <= time.monotonic() - idle_from < HEADER_TIMEOUT_S


def test_a_body_that_stops_half_way_gets_408_and_its_turn_is_not_saved(gateway: GatewayProcess) -> None:
    tid = "thread_stalled_body"
    with httpx.Client(base_url=gateway.url, headers={"X-API-Key": KEY_A}, timeout=10) as api:
        assert api.post("/v1/threads", json={"id": tid}).status_code == 201
    body = json.dumps({"model": "echo", "thread": tid, "inputs": [user("never finished")]}).encode()
    headers = {"X-API-Key": KEY_A, "Content-Type": "application/json", "X-Request-ID": "stalled-1"}
    head = request("POST", "/v1/model/response", body, headers)
    with connect(gateway) as sock:
        started = time.monotonic()
        sock.sendall(head[: len(head) - len(body) // 2])
        answer = read_answer(sock, started)
        error = assert_refusal_with_own_id(answer, "stalled-1")
        assert error["code"] == "REQUEST_TIMEOUT"
        assert BODY_TIMEOUT_S - 0.1 <= answer.elapsed_s < BODY_TIMEOUT_S + SLACK_S
        assert ends(sock, 2.0)
    with httpx.Client(base_url=gateway.url, headers={"X-API-Key": KEY_A}, timeout=10) as api:
        messages = api.get(f"/v1/threads/{tid}/messages")
    assert messages.status_code == 200
    assert messages.json()["data"] == []
    line = next(line for line in log_lines(gateway) if line.get("request_id") == "stalled-1")
    assert (line["method"], line["path"], line["status"]) == ("POST", "/v1/model/response", 408)


def assert_refusal_with_own_id(answer: Answer, rid: str) -> dict[str, Any]:
    # A refused request whose head was read keeps its caller's request id, like every other answer.
    assert answer.status == 408, answer
    assert answer.headers["connection"] == "close"
    assert answer.headers["x-request-id"] == rid
    error: dict[str, Any] = answer.envelope()["error"]
    assert error["trace_id"] == rid
    return error


@pytest.mark.parametrize(
    "payload",
    [
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Nul: a\x00b\r\n\r\n",
        b"POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"GET /health HTTP/1.1 trailing\r\nHost: 127.0.0.1\r\n\r\n",
    ],
    ids=["nul-in-header", "two-content-lengths", "bad-request-line"],
)
def test_what_the_parser_refuses_is_answered_400_in_the_envelope(
    gateway: GatewayProcess, payload: bytes
) -> None:
    answer, closed = exchange(gateway, payload)
    error = assert_refusal(answer, 400, "BAD_REQUEST")
    assert error["type"] == "invalid_request_error"
    assert closed


def test_two_workers_hold_the_limits_too(two_workers: GatewayProcess) -> None:
    # Each worker listens on its own socket: several connections reach both of them.
    big = request("GET", "/health", headers={"X-Padding": "p" * (MAX_HEADER_BYTES * 2)})
    for _ in range(8):
        answer, closed = exchange(two_workers, big)
        assert_refusal(answer, 431, "HEADERS_TOO_LARGE")
        assert closed
    idle = [connect(two_workers) for _ in range(8)]
    try:
        started = time.monotonic()
        assert all(ends(sock, HEADER_TIMEOUT_S + SLACK_S - (time.monotonic() - started)) for sock in idle)
    finally:
        for sock in idle:
            sock.close()
    assert httpx.get(two_workers.url + "/health", timeout=5).status_code == 200
