"""`client.responses.cancel_stream(thread_id)` of aitronos-sdk 5.0.0 (SPEC §10): it stops that
thread's running stream, whose answer still ends with `data: [DONE]`; the upstream call is dropped;
what the answer says was saved is what the thread holds, and the thread takes turns again."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aitronos import Aitronos
from aitronos.core.api_error import ApiError

from tests.conftest import uid
from tests.e2e.sdk.helpers import Client, call, event_stream, user
from tests.fakes.behaviours import Reply
from tests.fakes.server import eventually
from tests.fakes.upstream import FakeUpstream

CHUNKS = tuple(f"part{i} " for i in range(40))
FULL = "".join(CHUNKS)


async def streamed(sdk: Client, tid: str) -> ApiError:
    """The stream as the SDK hands it back (an `ApiError` holding the event stream, see helpers)."""

    def request() -> Any:
        return sdk.responses.create_response(
            model="slow/model-x", inputs=[user("Tell me a long story")], thread_id=tid, stream=True
        )

    try:
        if isinstance(sdk, Aitronos):
            # The sync client blocks until the stream ends: it runs in a thread of its own.
            await asyncio.to_thread(request)
        else:
            await request()
    except ApiError as exc:
        return exc
    raise AssertionError("aitronos-sdk parsed an event stream as JSON")


async def test_cancel_stops_the_running_stream_and_saves_what_it_reports(
    upstream_sdk: Client, upstream: tuple[FakeUpstream, str]
) -> None:
    fake, _ = upstream
    tid = uid("cancel")
    await call(
        upstream_sdk.responses.create_response(model="slow/model-x", inputs=[user("Hi")], thread_id=tid)
    )
    # Ten seconds of stream, a chunk every quarter second.
    fake.push(Reply(chunks=CHUNKS, chunk_delay_s=0.25))
    running = asyncio.create_task(streamed(upstream_sdk, tid))
    try:
        assert await eventually(lambda: len(fake.calls) == 2)
        await asyncio.sleep(0.8)
        started = time.monotonic()
        cancelled = await call(upstream_sdk.responses.cancel_stream(tid))
        exc = await asyncio.wait_for(running, 8)
        assert time.monotonic() - started < 4
    finally:
        # A failed cancel must not leave the stream's task behind.
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert cancelled.success is True and isinstance(cancelled.cancel_mode, str) and cancelled.cancel_mode
    assert 0.5 < cancelled.elapsed_seconds < 8
    assert await eventually(lambda: fake.calls[1].disconnected)

    events, data_lines = event_stream(exc)
    assert events[0][0] == "response.created"
    assert data_lines[-1] == "data: [DONE]"
    deltas = "".join(data["delta"] for name, data in events if name == "response.output_text.delta")
    assert FULL.startswith(deltas) and deltas != FULL

    messages = (await call(upstream_sdk.messages.get_thread_messages(tid))).data
    assert [(m.role, m.content) for m in messages[:2]] == [
        ("user", "Hi"),
        ("assistant", "Hello from the fake"),
    ]
    kept = messages[2:]
    expected_roles = [] if cancelled.user_message_deleted else ["user"]
    expected_roles += [] if cancelled.assistant_response_deleted else ["assistant"]
    assert [m.role for m in kept] == expected_roles
    if not cancelled.user_message_deleted:
        assert kept[0].content == "Tell me a long story"
    if not cancelled.assistant_response_deleted:
        assert cancelled.partial_content_saved is True
        assert FULL.startswith(kept[-1].content) and kept[-1].content != FULL
    assert (await call(upstream_sdk.threads.get_thread(tid))).message_count == len(messages)

    # The thread is free again: the next turn is answered and saved after what was kept.
    again = await call(
        upstream_sdk.responses.create_response(
            model="slow/model-x", inputs=[user("Short one")], thread_id=tid
        )
    )
    assert again["output_text"] == "Hello from the fake"
    assert (await call(upstream_sdk.threads.get_thread(tid))).message_count == len(messages) + 2
