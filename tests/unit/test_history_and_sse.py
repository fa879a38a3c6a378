"""History fitting across batches (gateway.context) and the SSE parser of the direct client."""

from __future__ import annotations

import pytest

from gateway.core.budget import BATCH, MAX_BATCH, MIN_BATCH, Budget, batch_for, fit_history
from providers.base import ChatMessage
from providers.direct import SseLines
from providers.echo import EchoProvider

COUNT = EchoProvider().count_tokens  # ceil(chars / 4)


def _thread(n: int, chars: int = 40) -> list[tuple[int, ChatMessage]]:
    """(seq, message) for seq 1..n, each message `chars` long (10 tokens at 40)."""
    return [(seq, ChatMessage("user", (f"{seq:0{chars}d}",))) for seq in range(1, n + 1)]


async def _fit(
    thread: list[tuple[int, ChatMessage]], window: int, first: int = BATCH
) -> tuple[list[int], list[int]]:
    """The sequence numbers chosen, and the limits each read asked for."""
    newest_first = thread[::-1]
    asked: list[int] = []

    async def fetch(last: tuple[int, ChatMessage] | None, limit: int) -> list[tuple[int, ChatMessage]]:
        asked.append(limit)
        start = 0 if last is None else next(i for i, m in enumerate(newest_first) if m[0] == last[0]) + 1
        return newest_first[start : start + limit]

    chosen = await fit_history(
        Budget(window, [], COUNT),
        system=[],
        fetch_recent=fetch,
        chat=lambda m: m[1],
        position=lambda m: m[0],
        first=first,
    )
    return [seq for seq, _ in chosen], asked


async def test_a_long_thread_is_read_in_two_batches_sized_by_the_budget() -> None:
    # 300 messages of 10 tokens fit a 3,000-token window; the thread has 10,000.
    chosen, asked = await _fit(_thread(10_000), 3_000)
    assert chosen == list(range(9_701, 10_001))
    assert asked[0] == BATCH
    assert len(asked) == 2
    assert asked[1] >= 300 - BATCH  # what the rest of the budget holds, with a margin


async def test_a_short_thread_is_read_once_and_whole() -> None:
    chosen, asked = await _fit(_thread(10), 3_000)
    assert chosen == list(range(1, 11))
    assert asked == [BATCH]


async def test_a_thread_that_ends_exactly_on_a_batch_reads_once_more_and_stops() -> None:
    chosen, asked = await _fit(_thread(BATCH), 100_000)
    assert chosen == list(range(1, BATCH + 1))
    assert len(asked) == 2


async def test_batches_never_exceed_the_cap() -> None:
    # Tiny messages and a huge window: the estimate is capped, the result still exact.
    thread = [(seq, ChatMessage("user", ("x",))) for seq in range(1, 5_001)]
    chosen, asked = await _fit(thread, 1_000_000)
    assert chosen == list(range(1, 5_001))
    assert max(asked) == MAX_BATCH


@pytest.mark.parametrize("split", [1, 2, 3, 7, 1000])
def test_sse_lines_survive_any_split_of_the_stream(split: int) -> None:
    stream = (
        b": a comment\r\n"
        b"event: ignored\r\n"
        b'data: {"a": 1}\r\n\r\n'
        b"data:first\ndata: second\n\n"
        b"id: 7\rdata: cr only\r\r"
        b"data: [DONE]"  # the last event without its blank line
    )
    lines = SseLines()
    events: list[bytes] = []
    for i in range(0, len(stream), split):
        events += lines.feed(stream[i : i + split])
    events += lines.close()
    assert events == [b'{"a": 1}', b"first\nsecond", b"cr only", b"[DONE]"]


def test_sse_lines_ignore_blank_events_and_keep_colons_in_data() -> None:
    lines = SseLines()
    assert lines.feed(b"\n\n\ndata: a:b: c\n\n") == [b"a:b: c"]
    assert lines.close() == []


def test_sse_lines_join_a_crlf_split_across_reads() -> None:
    lines = SseLines()
    assert lines.feed(b"data: a\r") == []
    assert lines.feed(b"\ndata: b\r") == []
    assert lines.feed(b"\n\r") == []
    assert lines.feed(b"\n") == [b"a\nb"]


async def test_a_first_read_sized_from_a_known_message_size_is_the_only_read() -> None:
    # 10 tokens a message, 3,000 tokens: about 300 messages, read at once with a margin.
    first = batch_for(3_000, 10.0)
    assert 300 < first <= 400
    chosen, asked = await _fit(_thread(10_000), 3_000, first=first)
    assert chosen == list(range(9_701, 10_001))
    assert asked == [first]


async def test_a_wrong_size_estimate_costs_a_read_not_a_wrong_context() -> None:
    # The estimate says 1,000 tokens a message: the first read is small, the rest follows.
    first = batch_for(3_000, 1_000.0)
    assert first == MIN_BATCH
    chosen, asked = await _fit(_thread(10_000), 3_000, first=first)
    assert chosen == list(range(9_701, 10_001))
    assert asked[0] == MIN_BATCH and len(asked) == 2


def test_batch_sizes_without_an_estimate_and_at_the_bounds() -> None:
    assert batch_for(3_000, None) == BATCH
    assert batch_for(10**9, 1.0) == MAX_BATCH
    assert batch_for(0, 50.0) == MIN_BATCH
