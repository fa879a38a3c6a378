"""A fast fake OpenAI-compatible upstream for benchmarks: fixed latency, real HTTP, JSON or SSE.

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


def make_app(latency_s: float) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = _decode(body) if body else {}
        model = str(request.get("model", "bench"))
        prompt_tokens = sum(len(str(m.get("content", ""))) for m in request.get("messages", [])) // 4 + 1
        await asyncio.sleep(latency_s)
        if request.get("stream"):
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")],
                }
            )
            for chunk in _chunks(model, prompt_tokens):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        payload = _completion(model, prompt_tokens)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"%d" % len(payload)),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app


def main() -> None:
    import uvicorn

    port, latency_ms = int(sys.argv[1]), float(sys.argv[2])
    uvicorn.run(
        make_app(latency_ms / 1000),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        backlog=4096,
    )


if __name__ == "__main__":
    main()
