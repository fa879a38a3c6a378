"""What the fake upstream (`tests.fakes.upstream`) does with one request: its script's entries.

`Reply` answers (JSON, SSE or an embeddings list), `Fail` answers with an HTTP error, `Broken` cuts
the connection mid-answer; `slow` is a `Reply` that waits first.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reply:
    """A normal answer: the chunks joined (JSON) or one SSE text event per chunk (stream).

    `delay_s` waits before the response starts (a slow upstream); `stall_after` stops a stream
    after that many text chunks for `stall_s` seconds (a client may leave meanwhile). Both waits end
    early when the client closes the connection.

    To `/embeddings`: `vectors` in their order (none: `fake_vector` of each input), `input_tokens`
    as the usage.
    """

    chunks: tuple[str, ...] = ("Hello", " from", " the fake")
    input_tokens: int = 11
    output_tokens: int = 7
    delay_s: float = 0.0
    chunk_delay_s: float = 0.0
    stall_after: int | None = None
    stall_s: float = 0.0
    vectors: tuple[tuple[float, ...], ...] = ()
    # Set: the answer waits until the test sets it (or the client leaves), after `delay_s`.
    hold: threading.Event | None = None

    @property
    def text(self) -> str:
        return "".join(self.chunks)


@dataclass(frozen=True)
class Fail:
    """An HTTP error. `body` defaults to the dialect's error envelope with `message`."""

    status: int
    message: str = "The fake upstream refuses."
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Broken:
    """A stream (or a JSON answer) whose connection drops after `after` text chunks."""

    after: int = 1
    chunks: tuple[str, ...] = ("Hello", " from", " the fake")


Behaviour = Reply | Fail | Broken


def slow(seconds: float, then: Reply | None = None) -> Reply:
    """An upstream that takes `seconds` before it starts answering."""
    base = then or Reply()
    return Reply(
        chunks=base.chunks,
        input_tokens=base.input_tokens,
        output_tokens=base.output_tokens,
        delay_s=seconds,
        chunk_delay_s=base.chunk_delay_s,
        vectors=base.vectors,
    )


def fake_vector(index: int, text: str) -> tuple[float, ...]:
    """The vector the fake gives the `index`-th input of an embeddings request by default."""
    return (float(index), float(len(text)), 0.5)
