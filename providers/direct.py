"""A lean HTTP client for OpenAI-compatible servers: aiohttp and bytes, nothing in between.

The official SDK serves OpenAI's own API (`providers.openai`). For the servers of the config file's
`[endpoints]` (vLLM, Ollama, LM Studio, a local proxy; `providers.compatible`) the gateway's own
overhead is what a caller sees next to a fast model, and the SDK's request layers (option models,
header merging, its httpx-compatible shim over aiohttp) cost more CPU per call than the rest of a
turn. The adapter encodes and decodes with msgspec (`providers.openai_wire`) and maps this client's
failures with `providers.errors.HTTP_ERRORS`.

One `aiohttp.ClientSession` (with its connection pool) per adapter and event loop, made on first
use and closed by `aclose`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import aiohttp

from providers.errors import UpstreamStatus

# Sockets kept per adapter; a gateway worker rarely has more calls in flight to one server.
POOL_LIMIT = 1000


class SseLines:
    """The `data` fields of a server-sent event stream (the WHATWG rules the OpenAI stream needs).

    Fields other than `data` (`event`, `id`, `retry`) and comments are skipped; several `data`
    lines of one event are joined with newlines; an event ends at a blank line. Lines may end in
    `\\n`, `\\r\\n` or `\\r`, and may arrive split across reads.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        text = self._buffer + chunk
        # A `\r` at the end may be the first half of a `\r\n` split across reads: keep it back.
        held = b"\r" if text.endswith(b"\r") else b""
        if held:
            text = text[:-1]
        events: list[bytes] = []
        *lines, rest = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        self._buffer = rest + held
        for line in lines:
            if not line:
                if self._data:
                    events.append(b"\n".join(self._data))
                    self._data = []
                continue
            name, _, value = line.partition(b":")
            if name == b"data":
                self._data.append(value[1:] if value.startswith(b" ") else value)
        return events

    def close(self) -> list[bytes]:
        """What the end of the stream completes (a last event without its blank line)."""
        if not (self._buffer or self._data):
            return []
        return self.feed(b"\n\n")


class DirectClient:
    """POSTs JSON bodies to one base URL with one key.

    Failures leave as they come: `UpstreamStatus` for a non-2xx answer, aiohttp's errors and
    `TimeoutError`; the adapter maps them (`providers.errors.HTTP_ERRORS`).
    """

    def __init__(self, *, base_url: str, api_key: str, timeout_s: float) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "thread-gateway",
        }
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        # A stream may run longer than one attempt's time as long as it keeps sending.
        self._stream_timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout_s, sock_read=timeout_s)
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=POOL_LIMIT, ttl_dns_cache=300),
                headers=self._headers,
                skip_auto_headers=("Accept-Encoding",),
                raise_for_status=False,
                auto_decompress=True,
            )
            self._sessions[loop] = session
        return session

    async def post(self, path: str, body: bytes) -> bytes:
        """The answer's body of a successful (2xx) call."""
        async with self._session().post(self._base + path, data=body, timeout=self._timeout) as response:
            if response.status >= 300:
                raise _status(response)
            return await response.read()

    async def events(self, path: str, body: bytes) -> AsyncGenerator[bytes]:
        """The `data` of each server-sent event of a successful call, as it arrives.

        Closing the generator early (a cancelled turn) closes the upstream connection.
        """
        async with self._session().post(
            self._base + path, data=body, timeout=self._stream_timeout
        ) as response:
            if response.status >= 300:
                raise _status(response)
            lines = SseLines()
            async for chunk in response.content.iter_any():
                for data in lines.feed(chunk):
                    yield data
            for data in lines.close():
                yield data

    async def aclose(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            if not session.closed:
                await session.close()


def _status(response: aiohttp.ClientResponse) -> UpstreamStatus:
    return UpstreamStatus(response.status, response.headers.get("retry-after"))
