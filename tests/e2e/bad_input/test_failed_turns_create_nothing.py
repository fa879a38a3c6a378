"""SPEC §3, §8: a refused turn naming a new thread creates no thread and leaves its id free; one on an
existing thread appends nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, err, ok, uid, user
from tests.e2e.bad_input.helpers import CP, GOOD, TURN, V, snapshot

pytestmark = pytest.mark.asyncio(loop_scope="package")  # the package's one app (conftest.py)


# -- failures create nothing -------------------------------------------------------------------------

FAILING_TURNS: list[tuple[str, dict[str, Any], int, str]] = [
    ("validation", {"temperature": 9}, 422, V),
    ("unknown-model", {"model": "nope"}, 404, "MODEL_NOT_FOUND"),
    ("not-configured", {"model": "gpt-4.1"}, 503, "PROVIDER_NOT_CONFIGURED"),
    ("not-configured-stream", {"model": "claude-sonnet-4-5", "stream": True}, 503, "PROVIDER_NOT_CONFIGURED"),
    ("conflict", {"thread_id": "other"}, 400, CP),
    ("bad-item", {"inputs": [{"role": "robot", "content": "x"}]}, 422, V),
    ("context-too-long", {"inputs": [user("z" * 200_000)]}, 400, "CONTEXT_LENGTH_EXCEEDED"),
]


@pytest.mark.parametrize(
    ("name", "changes", "status", "code"), FAILING_TURNS, ids=[f[0] for f in FAILING_TURNS]
)
async def test_failed_turn_naming_a_new_thread_creates_no_thread_and_leaves_the_id_free(
    a: Api, name: str, changes: dict[str, Any], status: int, code: str
) -> None:
    tid = uid()
    before = await snapshot(a)
    for form in ({"thread": tid}, {"thread": {"id": tid, "metadata": {"m": 1}}}):
        r = await a.post(TURN, json={**GOOD, **form, **changes})
        err(r, status, code)
        err(await a.thread(tid), 404, "THREAD_NOT_FOUND")
        assert await snapshot(a) == before
    # The id is not tombstoned: a correct turn still creates it.
    assert ok(await a.say("now", thread=tid))["thread_id"] == tid
    assert len(await a.messages(tid)) == 2


@pytest.mark.parametrize(
    ("name", "changes", "status", "code"), FAILING_TURNS, ids=[f[0] for f in FAILING_TURNS]
)
async def test_failed_turn_on_existing_thread_appends_nothing(
    a: Api, name: str, changes: dict[str, Any], status: int, code: str
) -> None:
    tid = ok(await a.say("first", thread=uid()))["thread_id"]
    before = ok(await a.thread(tid))
    err(await a.post(TURN, json={**GOOD, "thread": tid, **changes}), status, code)
    assert ok(await a.thread(tid)) == before
    assert [m["texts"][0]["text"] for m in await a.messages(tid)] == ["first", "first"]
