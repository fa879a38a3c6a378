"""SPEC §7: a model with `[fallbacks]` in the config file falls back to the next provider after
retryable failures or timed-out attempts, and a stream does so only before its first delta."""

from __future__ import annotations

import time

import pytest

from tests.conftest import Api, ok, uid, user
from tests.fakes.behaviours import Behaviour, Broken, Fail, Reply, slow
from tests.integration.providers.helpers import (
    ATTEMPTS,
    TOTAL_TIMEOUT_S,
    Case,
    Upstreams,
    ask,
    cases,
    deltas,
    events_of,
    names,
    thread_snapshot,
)

pytestmark = pytest.mark.asyncio(loop_scope="package")  # the package's one gateway (conftest.py)


@cases
@pytest.mark.parametrize("failure", [Fail(503), Fail(408)], ids=["503", "408"])
async def test_fallback_to_the_next_provider_of_the_config_file(
    case: Case, failure: Behaviour, api: Api, up: Upstreams
) -> None:
    up[case.fake].push(*[failure] * ATTEMPTS)
    up[case.backup].push(Reply(chunks=("from the backup",), input_tokens=8, output_tokens=3))
    thread = uid("thread")
    body = ok(await ask(api, case.primary, user("hi"), thread=thread))
    assert body["output_text"] == "from the backup"
    assert body["model"] == case.primary
    assert body["usage"] == {"input_tokens": 8, "output_tokens": 3, "total_tokens": 11}
    assert len(up[case.fake].calls) == ATTEMPTS
    assert [c.body["model"] for c in up[case.backup].calls] == [case.backup_upstream]
    _, _, messages = await thread_snapshot(api, thread)
    assert messages == [("user", "hi"), ("assistant", "from the backup")]


async def test_fallback_after_attempts_that_time_out(api: Api, up: Upstreams) -> None:
    up["openai"].push(*[slow(10)] * ATTEMPTS)
    up["anthropic"].push(Reply(chunks=("patient backup",)))
    started = time.monotonic()
    assert ok(await ask(api, "openai/gpt-primary", user("hi")))["output_text"] == "patient backup"
    assert time.monotonic() - started < TOTAL_TIMEOUT_S
    assert len(up["openai"].calls) == ATTEMPTS and len(up["anthropic"].calls) == 1


@cases
@pytest.mark.parametrize(
    "failures",
    [[Broken(after=0)] * ATTEMPTS, [Fail(500), Broken(after=0)]],
    ids=["broken-before-first-delta", "500-then-broken"],
)
async def test_stream_falls_back_before_its_first_delta(
    case: Case, failures: list[Behaviour], api: Api, up: Upstreams
) -> None:
    up[case.fake].push(*failures)
    up[case.backup].push(Reply(chunks=("back", "up")))
    thread = uid("thread")
    events = events_of(await ask(api, case.primary, user("hi"), thread=thread, stream=True))
    assert deltas(events) == ["back", "up"]
    assert names(events)[-1] == "response.completed"
    assert len(up[case.fake].calls) == ATTEMPTS
    assert len(up[case.backup].calls) == 1 and up[case.backup].calls[0].stream
    _, _, messages = await thread_snapshot(api, thread)
    assert messages == [("user", "hi"), ("assistant", "backup")]
