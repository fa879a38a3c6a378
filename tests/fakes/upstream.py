"""Fake model providers over real HTTP on loopback: OpenAI Chat Completions and Embeddings, Anthropic
Messages.

`FakeUpstream` is a plain ASGI app (no framework): it answers `POST .../chat/completions` and
`POST .../embeddings` in OpenAI's dialect and `POST .../messages` in Anthropic's, as JSON or, when
the request asks for a stream, as server-sent events. It records every request and follows a
script, a queue of behaviours consumed one per request (`tests.fakes.behaviours`: `Reply`, `Fail`,
`Broken`); when the script is empty it answers with `default`, so it also serves as a provider with
configurable latency for benchmarks: `FakeUpstream(Reply(delay_s=0.05, chunk_delay_s=0.01),
record=False)`. `tests.fakes.server.serve` runs it on a loopback port:

    fake = FakeUpstream()
    with serve(fake) as base_url:          # "http://127.0.0.1:PORT"
        fake.push(Fail(429, headers={"retry-after": "7"}), Reply(chunks=("Hi",)))
        ...
        assert fake.calls[0].body["model"] == "gpt-4.1"
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

from tests.fakes.behaviours import Behaviour, Broken, Fail, Reply, fake_vector, slow
from tests.fakes.server import ServerThread, eventually, serve

# The behaviours and the server lived here once; importing them from here keeps working.
__all__ = [
    "Behaviour",
    "Broken",
    "Call",
    "Dialect",
    "Fail",
    "FakeUpstream",
    "Reply",
    "ServerThread",
    "eventually",
    "fake_vector",
    "serve",
    "slow",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Dialect = Literal["openai", "anthropic"]


@dataclass
class Call:
    """One request the fake received."""

    dialect: Dialect
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    # The client closed the connection before the answer ended (e.g. a cancelled request).
    disconnected: bool = False
    finished: bool = False

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))


class _Drop(Exception):
    """Raised inside the app to make uvicorn cut the connection mid-answer."""


class FakeUpstream:
    """An ASGI app speaking both dialects; see the module docstring."""

    def __init__(self, default: Behaviour | None = None, *, record: bool = True) -> None:
        self.default: Behaviour = default or Reply()
        # A benchmark sends many requests: `record=False` keeps only the count.
        self.record = record
        self.count = 0
        self.calls: list[Call] = []
        self._script: deque[Behaviour] = deque()
        # Requests that `answer_when` matches get their behaviour from it, before the script.
        self._rules: list[tuple[Callable[[Call], bool], Callable[[Call], Behaviour]]] = []
        self._lock = threading.Lock()

    # -- the test's side (any thread) ------------------------------------------------------------

    def push(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def answer_when(self, match: Callable[[Call], bool], answer: Callable[[Call], Behaviour]) -> None:
        """Answer the requests `match` accepts with `answer(call)`, whatever the script holds (for
        background calls whose order among the others is not known, such as a summary's)."""
        with self._lock:
            self._rules.append((match, answer))

    def reset(self, default: Behaviour | None = None) -> None:
        with self._lock:
            self._rules.clear()
            self._script.clear()
            self.calls = []
            self.count = 0
            self.default = default or Reply()

    @property
    def pending(self) -> int:
        """Scripted behaviours not consumed yet."""
        with self._lock:
            return len(self._script)

    def _next(self, call: Call) -> Behaviour:
        with self._lock:
            self.count += 1
            if self.record:
                self.calls.append(call)
            for match, answer in self._rules:
                if match(call):
                    return answer(call)
            return self._script.popleft() if self._script else self.default

    # -- the server's side -----------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        path: str = scope["path"]
        dialect: Dialect | None = (
            "openai"
            if path.endswith(("/chat/completions", "/embeddings"))
            else "anthropic"
            if path.endswith("/messages")
            else None
        )
        if scope["method"] != "POST" or dialect is None:
            await _send_json(send, 404, {"error": {"message": f"no route {path}"}})
            return
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"_raw": raw.decode(errors="replace")}
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        call = Call(dialect=dialect, path=path, headers=headers, body=body)
        behaviour = self._next(call)
        gone = asyncio.Event()
        watcher = asyncio.create_task(_watch(receive, call, gone))
        try:
            await _Answer(call, send, gone).perform(behaviour)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _watch(receive: Receive, call: Call, gone: asyncio.Event) -> None:
    # uvicorn answers `receive()` with `http.disconnect` when the peer closes the connection (and
    # also once the answer is complete, which `finished` tells apart).
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            if not call.finished:
                call.disconnected = True
            gone.set()
            return


async def _send_json(send: Send, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    head += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": data})


class _Answer:
    """One request's answer in its dialect."""

    def __init__(self, call: Call, send: Send, gone: asyncio.Event) -> None:
        self.call = call
        self.send = send
        self.gone = gone
        self.model = str(call.body.get("model", "model"))

    async def _wait(self, seconds: float) -> bool:
        """Sleep; False when the client left meanwhile."""
        if seconds <= 0:
            return not self.gone.is_set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.gone.wait(), seconds)
        return not self.gone.is_set()

    async def perform(self, behaviour: Behaviour) -> None:
        match behaviour:
            case Fail():
                await self._fail(behaviour)
            case Broken():
                await self._broken(behaviour)
            case Reply():
                if not await self._wait(behaviour.delay_s):
                    return
                while behaviour.hold is not None and not behaviour.hold.is_set():
                    if not await self._wait(0.01):
                        return
                if self.call.stream:
                    await self._stream(behaviour)
                else:
                    self.call.finished = True
                    await _send_json(self.send, 200, self._json(behaviour))

    async def _fail(self, fail: Fail) -> None:
        body = fail.body
        if body is None:
            if self.call.dialect == "openai":
                body = {"error": {"message": fail.message, "type": "fake_error", "code": None}}
            else:
                body = {"type": "error", "error": {"type": "fake_error", "message": fail.message}}
        self.call.finished = True
        await _send_json(
            self.send, fail.status, body if not isinstance(body, str) else body.encode(), fail.headers
        )

    def _json(self, reply: Reply) -> dict[str, Any]:
        if self.call.path.endswith("/embeddings"):
            return self._embeddings(reply)
        if self.call.dialect == "openai":
            return {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": reply.input_tokens,
                    "completion_tokens": reply.output_tokens,
                    "total_tokens": reply.input_tokens + reply.output_tokens,
                },
            }
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [{"type": "text", "text": reply.text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
        }

    def _embeddings(self, reply: Reply) -> dict[str, Any]:
        texts = self.call.body.get("input", [])
        texts = [texts] if isinstance(texts, str) else texts
        vectors = reply.vectors or tuple(fake_vector(i, str(t)) for i, t in enumerate(texts))
        return {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": list(v)} for i, v in enumerate(vectors)
            ],
            "model": self.model,
            "usage": {"prompt_tokens": reply.input_tokens, "total_tokens": reply.input_tokens},
        }

    # -- SSE -------------------------------------------------------------------------------------

    async def _start_stream(self) -> None:
        head = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await self.send({"type": "http.response.start", "status": 200, "headers": head})

    async def _event(self, data: dict[str, Any] | str, name: str | None = None) -> None:
        payload = data if isinstance(data, str) else json.dumps(data)
        text = (f"event: {name}\n" if name else "") + f"data: {payload}\n\n"
        await self.send({"type": "http.response.body", "body": text.encode(), "more_body": True})

    def _openai_chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    async def _preamble(self, input_tokens: int) -> None:
        if self.call.dialect == "openai":
            await self._event(self._openai_chunk({"role": "assistant", "content": ""}))
            return
        message: dict[str, Any] = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1},
        }
        await self._event({"type": "message_start", "message": message}, "message_start")
        block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        await self._event(block, "content_block_start")
        await self._event({"type": "ping"}, "ping")

    async def _text(self, chunk: str) -> None:
        if self.call.dialect == "openai":
            await self._event(self._openai_chunk({"content": chunk}))
        else:
            delta = {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": chunk},
            }
            await self._event(delta, "content_block_delta")

    async def _ending(self, reply: Reply) -> None:
        if self.call.dialect == "openai":
            await self._event(self._openai_chunk({}, "stop"))
            if (self.call.body.get("stream_options") or {}).get("include_usage"):
                usage = {
                    "prompt_tokens": reply.input_tokens,
                    "completion_tokens": reply.output_tokens,
                    "total_tokens": reply.input_tokens + reply.output_tokens,
                }
                await self._event({**self._openai_chunk({}), "choices": [], "usage": usage})
            await self._event("[DONE]")
        else:
            await self._event({"type": "content_block_stop", "index": 0}, "content_block_stop")
            delta = {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": reply.output_tokens},
            }
            await self._event(delta, "message_delta")
            await self._event({"type": "message_stop"}, "message_stop")

    async def _stream(self, reply: Reply) -> None:
        await self._start_stream()
        await self._preamble(reply.input_tokens)
        for i, chunk in enumerate(reply.chunks):
            if (
                reply.stall_after is not None
                and i == reply.stall_after
                and not await self._wait(reply.stall_s)
            ):
                return
            if i and not await self._wait(reply.chunk_delay_s):
                return
            await self._text(chunk)
        await self._ending(reply)
        self.call.finished = True
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _broken(self, broken: Broken) -> None:
        if not self.call.stream:
            # Headers promise a body that never comes whole.
            head = [(b"content-type", b"application/json"), (b"content-length", b"1000")]
            await self.send({"type": "http.response.start", "status": 200, "headers": head})
            await self.send({"type": "http.response.body", "body": b'{"id": ', "more_body": True})
            raise _Drop
        await self._start_stream()
        await self._preamble(1)
        for chunk in broken.chunks[: broken.after]:
            await self._text(chunk)
        # Let the chunks reach the client before the connection is cut.
        await asyncio.sleep(0.05)
        raise _Drop


class _QuietDrops(logging.Filter):
    """uvicorn logs an app's exception with its traceback; a scripted drop is not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _Drop)


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
