"""SPEC §7: every scripted upstream failure (429, 500, 400, slow, a stream broken after a delta) and a
client leaving mid-stream, each with its answer, its retries, its deadline, and nothing saved."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import KEY_A, Api, err, ok, running, uid, user
from tests.fakes.behaviours import Broken, Fail, Reply, slow
from tests.fakes.server import eventually
from tests.integration.providers.helpers import (
    ATTEMPT_TIMEOUT_S,
    ATTEMPTS,
    TOTAL_TIMEOUT_S,
    Case,
    Upstreams,
    ask,
    cases,
    deltas,
    events_of,
    names,
    settings_for,
    thread_snapshot,
)

pytestmark = pytest.mark.asyncio(loop_scope="package")  # the package's one gateway (conftest.py)


# -- failures --------------------------------------------------------------------------------------


@cases
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_429_answers_rate_limited_with_retry_after_at_once(
    case: Case, stream: bool, api: Api, up: Upstreams
) -> None:
    # The model has fallbacks: a rate limit must not be taken to another provider either.
    up[case.fake].push(Fail(429, headers={"retry-after": "7"}))
    thread = uid("thread")
    r = await ask(api, case.primary, user("hi"), thread=thread, stream=stream)
    if stream:
        events = events_of(r)
        assert names(events) == ["response.created", "response.failed"]
        assert events[-1][1]["error"]["code"] == "RATE_LIMITED"
    else:
        err(r, 429, "RATE_LIMITED")
        assert r.headers["retry-after"] == "7"
    assert len(up[case.fake].calls) == 1
    assert up[case.backup].calls == []
    err(await api.thread(thread), 404, "THREAD_NOT_FOUND")


@cases
async def test_500_is_retried_up_to_the_attempts_then_502(case: Case, api: Api, up: Upstreams) -> None:
    fake = up[case.fake]
    fake.push(*[Fail(500)] * (ATTEMPTS + 1))
    thread = uid("thread")
    err(await ask(api, case.model, user("hi"), thread=thread), 502, "PROVIDER_ERROR")
    assert len(fake.calls) == ATTEMPTS
    err(await api.thread(thread), 404, "THREAD_NOT_FOUND")

    # A 500 followed by a success is invisible to the caller.
    fake.reset()
    fake.push(Fail(500), Reply(chunks=("recovered",)))
    assert ok(await ask(api, case.model, user("hi"), thread=thread))["output_text"] == "recovered"
    assert len(fake.calls) == 2


@cases
async def test_400_is_a_502_and_is_not_retried_nor_falls_back(case: Case, api: Api, up: Upstreams) -> None:
    up[case.fake].push(Fail(400, message="bad request"), Reply())
    err(await ask(api, case.primary, user("hi")), 502, "PROVIDER_ERROR")
    assert len(up[case.fake].calls) == 1
    assert up[case.backup].calls == []


@cases
async def test_slow_upstream_is_504_within_the_configured_bounds(case: Case, api: Api, up: Upstreams) -> None:
    fake = up[case.fake]
    fake.push(*[slow(10)] * (ATTEMPTS + 1))
    started = time.monotonic()
    err(await ask(api, case.model, user("hi")), 504, "PROVIDER_TIMEOUT")
    elapsed = time.monotonic() - started
    assert ATTEMPTS * ATTEMPT_TIMEOUT_S <= elapsed < TOTAL_TIMEOUT_S + 0.5, elapsed
    assert len(fake.calls) == ATTEMPTS
    # Each timed-out attempt's request was abandoned: the upstream saw its connection close.
    assert await eventually(lambda: all(c.disconnected for c in fake.calls))


@cases
async def test_total_deadline_bounds_a_slow_stream(case: Case, tmp_path: Path, up: Upstreams) -> None:
    # The total deadline (2.5 s) is shorter than two attempts (2 s each): it cuts the second one
    # short, 0.5 s in. Without it the stream would fail after 4 s: the bound leaves room for a
    # loaded machine and still tells the two apart.
    settings = settings_for(tmp_path, up, provider_timeout_s=2.5, provider_attempt_timeout_s=2.0)
    fake = up[case.fake]
    fake.push(*[slow(10)] * (ATTEMPTS + 1))
    async with running(settings) as client:
        api = Api(client, KEY_A)
        started = time.monotonic()
        events = events_of(await ask(api, case.model, user("hi"), stream=True))
        elapsed = time.monotonic() - started
    assert names(events) == ["response.created", "response.failed"]
    assert events[-1][1]["error"]["code"] == "PROVIDER_TIMEOUT"
    assert 2.5 <= elapsed < 3.9, elapsed
    assert len(fake.calls) == ATTEMPTS  # the second attempt was made, and cut short


@cases
async def test_broken_stream_after_a_delta_fails_and_saves_nothing(
    case: Case, api: Api, up: Upstreams
) -> None:
    fake = up[case.fake]
    fake.push(Reply(chunks=("kept",), input_tokens=3, output_tokens=1), Broken(after=1, chunks=("Hel", "lo")))
    thread = uid("thread")
    ok(await ask(api, case.primary, user("first"), thread=thread))
    before = await thread_snapshot(api, thread)

    events = events_of(await ask(api, case.primary, user("second"), thread=thread, stream=True))
    assert names(events) == ["response.created", "response.output_text.delta", "response.failed"]
    assert deltas(events) == ["Hel"]
    assert events[-1][1]["error"]["code"] == "PROVIDER_ERROR"
    assert await thread_snapshot(api, thread) == before
    # Text already reached the client: no retry, no fallback.
    assert len(fake.calls) == 2
    assert up[case.backup].calls == []


# -- a client that leaves --------------------------------------------------------------------------


@cases
async def test_client_leaving_mid_stream_cancels_upstream_and_saves_nothing(
    case: Case, http: httpx.AsyncClient, api: Api, up: Upstreams
) -> None:
    fake = up[case.fake]
    fake.push(
        Reply(chunks=("kept",)),
        Reply(chunks=("partial", " never sent"), stall_after=1, stall_s=20),
    )
    thread = uid("thread")
    ok(await ask(api, case.model, user("one"), thread=thread))
    before = await thread_snapshot(api, thread)

    # The gateway runs behind uvicorn: closing the half-read response closes a real socket.
    body = {"model": case.model, "inputs": [user("two")], "thread": thread, "stream": True}
    seen: list[str] = []
    async with http.stream("POST", "/v1/model/response", json=body, headers=api.headers) as r:
        assert r.status_code == 200
        async for line in r.aiter_lines():
            seen.append(line)
            if line.startswith("data:") and "response.output_text.delta" in line:
                break
    assert any("partial" in line for line in seen)

    streamed = fake.calls[1]
    assert await eventually(lambda: streamed.disconnected), "the upstream request was not cancelled"
    assert await thread_snapshot(api, thread) == before
    assert before[2] == [("user", "one"), ("assistant", "kept")]
