"""The HTTP/1.1 server: uvicorn's httptools protocol with the bounds httptools does not have.

httptools reads a request head of any size (a header's value is kept, and grown by concatenation,
until its line ends) and waits for ever for a head or a body that comes a byte at a time. This
protocol bounds, per request:

- the head (request line and headers): `max_header_bytes` and `max_headers`, else 431;
- the time to read the head, from the connection's start, or from the end of the previous answer on
  a keep-alive connection, to the head's end: `header_timeout_s`, else 408;
- a connection that sends no byte of a request: closed without an answer after `header_timeout_s`
  when new, after `keepalive_s` after an answer (uvicorn's keep-alive timeout, kept);
- the time to read the body, from the head's end to the body's end: `body_timeout_s`, else 408; an
  app waiting on the body gets `http.disconnect` and saves nothing.

These answers, and the parser's own refusals (a NUL in a header, two different `Content-Length`
headers, a malformed request line), are the Freddy envelope (`gateway.http.refusals`), where uvicorn
answers a plain-text 400.

The timeouts cost no timer per request. A connection has one deadline, moved as its reading goes
(a float, set as a phase begins), and one timer, armed for the earliest deadline it may have to
meet; when the timer fires at a deadline that has moved on, it is armed again for it. Arming and
cancelling a uvloop timer costs about 2 µs, as much as a tenth of a whole small request; uvicorn
arms its keep-alive timer once per answer, this protocol about once per keep-alive period.
"""

from __future__ import annotations

import asyncio
import enum
from typing import Any, cast

import httptools
import msgspec
import uvicorn
from litestar.types import Scope
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from gateway.errors import GatewayError
from gateway.http import refusals
from gateway.http.context import request_id
from gateway.ids import new_id
from gateway.settings import Settings

# ": " and CRLF around each header's name and value, as they were on the wire.
_HEADER_LINE_BYTES = 4
# After a refusal the connection is half-closed and what the client still sends is read and dropped
# for this long: closing with unread bytes makes the kernel send a reset, which can destroy the
# answer before the client has read it.
_LINGER_S = 2.0


class HttpLimits(msgspec.Struct, frozen=True, kw_only=True):
    max_header_bytes: int = 16_384
    max_headers: int = 100
    header_timeout_s: float = 10.0
    keepalive_s: float = 5.0
    body_timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(
            max_header_bytes=settings.http_max_header_bytes,
            max_headers=settings.http_max_headers,
            header_timeout_s=settings.http_header_timeout_s,
            keepalive_s=settings.http_keepalive_s,
            body_timeout_s=settings.http_body_timeout_s,
        )


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration, serving with `LimitedHttpProtocol` and its limits (a worker process
    gets a pickled copy, limits included)."""

    def __init__(self, app: str, *, limits: HttpLimits, **options: Any) -> None:
        super().__init__(app, http=LimitedHttpProtocol, **options)
        self.limits = limits


class _Read(enum.Enum):
    """Where the reading of the connection's latest request is."""

    WAITING = "waiting for a request's first byte"
    HEAD = "in a request's head"
    BODY = "in a request's body"


def _refusal(exc: httptools.HttpParserError) -> GatewayError:
    """What to answer for a request the parser stopped at."""
    # A callback's own exception travels as the parser error's context: a limit of ours, or
    # uvicorn's reading of the head (a request target it cannot parse, whose message quotes it).
    cause = exc.__context__
    if isinstance(cause, GatewayError):
        return cause
    if isinstance(exc, httptools.HttpParserCallbackError):
        bad_target = isinstance(cause, httptools.HttpParserInvalidURLError)
        return refusals.malformed("Invalid request target" if bad_target else "Invalid request head")
    return refusals.malformed(str(exc))


class LimitedHttpProtocol(HttpToolsProtocol):
    """One HTTP/1.1 connection, its request heads and bodies read within `HttpLimits`."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = config.limits if isinstance(config, ServerConfig) else HttpLimits()
        self._read = _Read.WAITING
        # When the wait for the current head began (the connection's start, or the last answer's end).
        self._since = 0.0
        # Bytes received while a head was expected: bounds a head whose line has not ended yet (the
        # parser calls back only with whole header lines, and keeps what it has until then).
        self._head_raw = 0
        # The request target and the header lines of this request, as the parser hands them over.
        self._head_bytes = 0
        self._header_count = 0
        self._refused = False
        # The reading's deadline (None while the app answers: nothing is awaited from the client),
        # and the one timer that enforces it.
        self._deadline: float | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._watchdog_at = 0.0
        self._linger: asyncio.TimerHandle | None = None

    @property
    def _answering(self) -> bool:
        """A request read is not answered yet: the next head's time starts when it is."""
        return self.cycle is not None and not self.cycle.response_complete

    # Connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._since = self.loop.time()
        self._set_deadline(self._since + self.limits.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline = None
        for timer in (self._watchdog, self._linger):
            if timer is not None:
                timer.cancel()
        self._watchdog = self._linger = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        while data and not self._refused:  # after a refusal, what still comes is dropped unread
            if self._read is _Read.BODY:
                piece, data = data, b""
            else:
                # A head is fed at most one byte past its limit: the parser, which keeps an unended
                # header line whole, never holds more of it than that.
                room = self.limits.max_header_bytes + 1 - self._head_raw
                piece, data = (data, b"") if len(data) <= room else (data[:room], data[room:])
                self._head_raw += len(piece)
            if not self._feed(piece):
                return
            if self._read is not _Read.BODY and self._head_raw > self.limits.max_header_bytes:
                self._refuse(refusals.head_too_large(self.limits.max_header_bytes))
                return
        if self._read is _Read.BODY and self._deadline is None and not self.pipeline and not self._refused:
            # A read ended inside the body of the request being answered. (A pipelined request
            # waiting for its turn is not read: its time starts in `on_response_complete`.)
            self._set_deadline(self.loop.time() + self.limits.body_timeout_s)

    def _feed(self, data: bytes) -> bool:
        """Parse `data`; False when the connection was refused or handed to the WebSocket protocol."""
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
                return False
            self._unsupported_upgrade_warning()  # then served as a plain request, as uvicorn does
        except httptools.HttpParserError as exc:
            self._refuse(_refusal(exc), self.cycle if self._read is _Read.BODY else None)
            return False
        return True

    # Parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._read = _Read.HEAD
        self._head_bytes = 0
        self._header_count = 0
        if not self._answering:
            self._set_deadline(self._since + self.limits.header_timeout_s)

    # `on_url` and `on_header` do uvicorn's work themselves: a `super()` call per header is a
    # measurable share of a small request.

    def on_url(self, url: bytes) -> None:
        self.url += url
        self._head_bytes += len(url)
        if self._head_bytes > self.limits.max_header_bytes:
            raise refusals.head_too_large(self.limits.max_header_bytes)

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))
        self._head_bytes += len(name) + len(value) + _HEADER_LINE_BYTES
        self._header_count += 1
        if self._head_bytes > self.limits.max_header_bytes:
            raise refusals.head_too_large(self.limits.max_header_bytes)
        if self._header_count > self.limits.max_headers:
            raise refusals.too_many_headers(self.limits.max_headers)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()  # first: a head it refuses (a bad target) is still a head
        self._read = _Read.BODY
        # The body's deadline is set only if a read ends inside it (`data_received`).
        self._deadline = None

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._read = _Read.WAITING
        self._head_raw = 0
        if self._answering:
            self._deadline = None
        else:  # answered before its body was read: the connection waits as after any answer
            self._set_deadline(self._since + self.limits.keepalive_s)

    def on_response_complete(self) -> None:
        # uvicorn's own, less its keep-alive timer (the deadline does its work).
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            started_last = not self.pipeline and not self._refused
            if started_last and self._read is _Read.BODY and self._deadline is None:
                self._set_deadline(self.loop.time() + self.limits.body_timeout_s)
            return
        if self._refused:
            return
        self._since = self.loop.time()
        if self._read is _Read.WAITING:
            self._set_deadline(self._since + self.limits.keepalive_s)
        elif self._read is _Read.HEAD:
            self._set_deadline(self._since + self.limits.header_timeout_s)
        # In the body: the app answered before reading it all; the body's deadline runs on.

    # Deadlines

    def _set_deadline(self, at: float) -> None:
        self._deadline = at
        if self._watchdog is None or at < self._watchdog_at:
            if self._watchdog is not None:
                self._watchdog.cancel()
            self._watchdog_at = at
            self._watchdog = self.loop.call_at(at, self._watch)

    def _watch(self) -> None:
        self._watchdog = None
        deadline = self._deadline
        if deadline is None or self._refused or self.transport.is_closing():
            return
        if self.loop.time() < deadline:  # moved on since the timer was armed
            self._set_deadline(deadline)
            return
        self._deadline = None
        if self._read is _Read.WAITING:
            self.transport.close()  # no byte of a request came: an idle connection
        elif self._read is _Read.HEAD:
            self._refuse(refusals.head_too_slow(self.limits.header_timeout_s))
        elif self.cycle.response_complete:
            self.transport.close()  # answered without the rest of its body: nothing left to say
        else:
            self._refuse(refusals.body_too_slow(self.limits.body_timeout_s), self.cycle)

    # Refusals

    def _refuse(self, error: GatewayError, cycle: RequestResponseCycle | None = None) -> None:
        """Answer `error` and end the connection. `cycle` is the refused request when its head was
        read: its id is the request's own, and its app, if running, is told the client left."""
        self._refused = True
        self._deadline = None
        # uvicorn's scope type and Litestar's describe the same dict.
        rid = request_id(cast("Scope", cycle.scope)) if cycle is not None else new_id("req")
        method = cycle.scope["method"] if cycle is not None else None
        path = cycle.scope["path"] if cycle is not None else None
        refusals.log(error, rid, method, path, self.loop.time() - self._since)
        if cycle is not None:
            # The app's `receive` now returns `http.disconnect`, and what it sends is dropped.
            cycle.disconnected = True
            cycle.message_event.set()
        if cycle is None and self._answering:
            # Pipelining: the requests read before this head are answered, then the connection
            # closes; this one is not (its answer would have to wait behind theirs, reading nothing).
            self.cycle.keep_alive = False
            self.flow.pause_reading()
            return
        if cycle is not None and self.pipeline:
            # Pipelining: a queued request's body is malformed while an earlier answer is under way;
            # the refusal cannot be written in turn, so the connection is cut.
            self.transport.close()
            return
        if cycle is None or not cycle.response_started:
            self.transport.write(refusals.response(error, rid, self.server_state.default_headers))
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self.flow.resume_reading()
        self._linger = self.loop.call_later(_LINGER_S, self.transport.close)
