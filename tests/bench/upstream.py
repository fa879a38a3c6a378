"""A fast fake OpenAI-compatible upstream for benchmarks: fixed latency, real HTTP, JSON or SSE.

It shares the machine with the gateway and the load generator, so it is kept cheap: a plain
asyncio protocol on uvloop (HTTP/1.1 keep-alive, `Content-Length` request bodies, which is what the
gateway and the generators send), each answer sent by a timer after the latency.

Run: python -m tests.bench.upstream PORT LATENCY_MS
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import msgspec

_decode = msgspec.json.Decoder(dict[str, Any]).decode
_encode = msgspec.json.Encoder().encode
ANSWER = "This is the model's answer to your question, in a handful of words."


def _completion(model: str, prompt_tokens: int) -> bytes:
    return _encode(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": ANSWER}}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": 16,
                "total_tokens": prompt_tokens + 16,
            },
        }
    )


def _chunks(model: str, prompt_tokens: int) -> list[bytes]:
    words = ANSWER.split(" ")
    out = []
    for i, word in enumerate(words):
        piece = word if i == 0 else " " + word
        out.append(
            b"data: "
            + _encode(
                {
                    "id": "chatcmpl-bench",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": model,
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                }
            )
            + b"\n\n"
        )
    out.append(
        b"data: "
        + _encode(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": len(words),
                    "total_tokens": prompt_tokens + len(words),
                },
            }
        )
        + b"\n\n"
    )
    out.append(b"data: [DONE]\n\n")
    return out


class _Upstream(asyncio.Protocol):
    """One client connection: HTTP/1.1 keep-alive, `Content-Length` bodies, answers after the
    latency by a timer (no task per request), JSON or SSE (chunked)."""

    def __init__(self, latency_s: float) -> None:
        self._latency = latency_s
        self._buffer = b""
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's TCP transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self._buffer[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self._buffer) < end + 4 + length:
                return
            body = self._buffer[end + 4 : end + 4 + length]
            self._buffer = self._buffer[end + 4 + length :]
            path = head.split(" ", 2)[1] if " " in head else "/"
            self._loop.call_later(self._latency if path != "/health" else 0, self._answer, path, body)

    def _answer(self, path: str, body: bytes) -> None:
        transport = self._transport
        if transport is None:
            return
        if path == "/health":
            transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok")
            return
        request = _decode(body) if body else {}
        model = str(request.get("model", "bench"))
        prompt_tokens = sum(len(str(m.get("content", ""))) for m in request.get("messages", [])) // 4 + 1
        if request.get("stream"):
            parts = [
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
            ]
            parts += [b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in _chunks(model, prompt_tokens)]
            parts.append(b"0\r\n\r\n")
            transport.write(b"".join(parts))
            return
        payload = _completion(model, prompt_tokens)
        transport.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
            % (len(payload), payload)
        )


async def serve(port: int, latency_s: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Upstream(latency_s), "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    import uvloop

    port, latency_ms = int(sys.argv[1]), float(sys.argv[2])
    uvloop.run(serve(port, latency_ms / 1000))


if __name__ == "__main__":
    main()
