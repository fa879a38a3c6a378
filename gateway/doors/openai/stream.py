"""A turn's stream as OpenAI's events (SPEC §14), in OpenAI's order, numbered from 0:

    response.created, response.in_progress,
    response.output_item.added, response.content_part.added,
    response.output_text.delta (one per upstream chunk) ...,
    response.output_text.done, response.content_part.done, response.output_item.done,
    response.completed            (or response.failed, after any of the above)

Each is an `event:` line and a `data:` line whose JSON `type` is the event's name. The output item's
id is the id its message gets in the conversation, known before the model answers.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator

import msgspec

from gateway.core.prepared import Completed, Created, Delta, Done, Failed, Prepared, StreamEvent
from gateway.core.records import ResponseRecord
from gateway.doors.openai.objects import (
    ContentPartEvent,
    Event,
    OutputItemEvent,
    OutputText,
    ResponseEvent,
    ResponseObject,
    TextDeltaEvent,
    TextDoneEvent,
)
from gateway.doors.openai.render import failed_object, output_item, response_object, started_object

_encode = msgspec.json.Encoder().encode


class Events:
    """Numbers and encodes one stream's events."""

    def __init__(self) -> None:
        self._n = -1

    def _next(self) -> int:
        self._n += 1
        return self._n

    def _sse(self, event: Event) -> bytes:
        return b"event: " + event.type.encode() + b"\ndata: " + _encode(event) + b"\n\n"

    def lifecycle(self, name: str, response: ResponseObject) -> bytes:
        return self._sse(ResponseEvent(type=name, sequence_number=self._next(), response=response))

    def opened(self, started: ResponseObject, item_id: str) -> bytes:
        """`created`, `in_progress`, then the output item and its text part, still empty."""
        return b"".join(
            (
                self.lifecycle("response.created", started),
                self.lifecycle("response.in_progress", started),
                self._sse(
                    OutputItemEvent(
                        type="response.output_item.added",
                        sequence_number=self._next(),
                        item=output_item(item_id, "", done=False),
                    )
                ),
                self._part("response.content_part.added", item_id, ""),
            )
        )

    def _part(self, name: str, item_id: str, text: str) -> bytes:
        part = OutputText(text=text)
        return self._sse(
            ContentPartEvent(type=name, sequence_number=self._next(), item_id=item_id, part=part)
        )

    def delta(self, item_id: str, text: str) -> bytes:
        return self._sse(TextDeltaEvent(sequence_number=self._next(), item_id=item_id, delta=text))

    def done(self, item_id: str, text: str) -> bytes:
        """The text, its part and its item, each finished."""
        return b"".join(
            (
                self._sse(TextDoneEvent(sequence_number=self._next(), item_id=item_id, text=text)),
                self._part("response.content_part.done", item_id, text),
                self._sse(
                    OutputItemEvent(
                        type="response.output_item.done",
                        sequence_number=self._next(),
                        item=output_item(item_id, text),
                    )
                ),
            )
        )


async def turn_events(stream: AsyncGenerator[StreamEvent], p: Prepared) -> AsyncIterator[bytes]:
    """The core's stream of a prepared turn as OpenAI's events."""
    out, item_id, finished = Events(), p.output_message_id, False
    # Closed with this generator (a client that leaves mid-stream): the turn gives its thread up.
    async with contextlib.aclosing(stream) as events:
        async for ev in events:
            match ev:
                case Created():
                    yield out.opened(started_object(p), item_id)
                case Delta(text):
                    yield out.delta(item_id, text)
                case Done(text):
                    finished = True
                    yield out.done(item_id, text)
                case Completed(record):
                    if not finished:  # a cancelled stream whose partial answer was kept
                        yield out.done(item_id, record.output_text)
                    yield out.lifecycle("response.completed", response_object(record, store=p.keep))
                case Failed(error):
                    yield out.lifecycle("response.failed", failed_object(p, error))


async def replayed_events(record: ResponseRecord) -> AsyncIterator[bytes]:
    """A saved answer sent again as a stream (an `Idempotency-Key` replay): its text in one delta."""
    out, item_id = Events(), record.output_message_id
    done = response_object(record)
    started = msgspec.structs.replace(done, status="in_progress", completed_at=None, output=[], usage=None)
    yield out.opened(started, item_id)
    if record.output_text:
        yield out.delta(item_id, record.output_text)
    yield out.done(item_id, record.output_text)
    yield out.lifecycle("response.completed", done)
