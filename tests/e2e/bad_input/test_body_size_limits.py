"""SPEC §6, §8: the request body limit, the default one and a configured one, on bodies with and
without a (truthful) Content-Length."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.app import create_app
from tests.conftest import KEY_A, Api, err, in_this_loop, make_settings, ok, running
from tests.e2e.bad_input.helpers import GOOD, JSON, TURN, item, snapshot

pytestmark = pytest.mark.asyncio(loop_scope="package")  # the package's one app (conftest.py)


# -- body size ---------------------------------------------------------------------------------------


async def test_body_just_under_the_default_limit_is_accepted(a: Api) -> None:
    overhead = len(json.dumps(item(role="user", content="")).encode())
    before = await snapshot(a)
    r = await a.post(TURN, json=item(role="user", content="x" * (1_048_576 - overhead - 10)))
    # Accepted as a body (not 413): parsed and measured against the echo model's 32,768-token
    # window, which a megabyte of text exceeds, so the turn is refused for its context and saves nothing.
    err(r, 400, "CONTEXT_LENGTH_EXCEEDED")
    assert await snapshot(a) == before


async def test_small_configured_body_limit_is_enforced(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path, max_body_bytes=2048)) as client:
        a = Api(client, KEY_A)
        assert ok(await a.say("small enough"))["output_text"] == "small enough"
        big = item(role="user", content="y" * 3000)
        err(await a.post(TURN, json=big), 413, "PAYLOAD_TOO_LARGE")
        err(await a.post("/v1/threads", json={"metadata": {"k": "z" * 3000}}), 413, "PAYLOAD_TOO_LARGE")
        tid = ok(await a.say("hello"))["thread_id"]
        big_patch = await a.patch(f"/v1/threads/{tid}", json={"metadata": {"k": "z" * 3000}})
        err(big_patch, 413, "PAYLOAD_TOO_LARGE")
        assert ok(await a.thread(tid))["metadata"] == {}
        assert len(ok(await a.get("/v1/threads"))["data"]) == 2


async def _raw_asgi_post(
    app: Any, path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[bytes, bytes], bytes]:
    """Drive the ASGI app directly: the body arrives in chunks with no Content-Length."""
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), payload


async def test_small_body_limit_applies_to_chunked_bodies_without_content_length(tmp_path: Path) -> None:
    chunks = [b'{"model": "echo", "inputs": [{"role": "user", "content": "', *([b"w" * 500] * 10), b'"}]}']
    headers = [(b"x-api-key", KEY_A.encode()), (b"content-type", b"application/json")]
    app = create_app(make_settings(tmp_path, max_body_bytes=2048))
    async with in_this_loop(app) as client:
        status, got_headers, payload = await _raw_asgi_post(app, TURN, chunks, headers)
        assert status == 413, payload[:300]
        error = json.loads(payload)["error"]
        assert error["code"] == "PAYLOAD_TOO_LARGE"
        assert error["trace_id"] == got_headers[b"x-request-id"].decode()
        # The same body in small pieces under the limit is accepted the same way.
        status, _, payload = await _raw_asgi_post(
            app,
            TURN,
            [b'{"model": "echo", ', b'"inputs": [{"role": "user", "content": "ok"}]}'],
            headers,
        )
        assert status == 200, payload[:300]
        assert len(ok(await client.get("/v1/threads", headers={"X-API-Key": KEY_A}))["data"]) == 1


async def test_a_content_length_over_the_limit_is_refused_whatever_the_body(a: Api) -> None:
    # The declared length is over the 1 MiB limit: refused on it, before the body is read.
    before = await snapshot(a)
    raw = json.dumps(GOOD).encode()
    r = await a.post(TURN, content=raw, headers={**JSON, "Content-Length": "5000000"})
    err(r, 413, "PAYLOAD_TOO_LARGE")
    assert await snapshot(a) == before
