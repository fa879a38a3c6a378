"""Shared helpers of the authentication and tenancy tests: a thread of organization A with a known
history, and the check that it is exactly as it was."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, ok, uid


async def a_thread_with_history(a: Api, text: str = "alpha secret text") -> str:
    tid = uid("shared")
    ok(await a.say(text, thread=tid))
    return tid


async def assert_untouched(a: Api, tid: str, before: dict[str, Any]) -> None:
    after = ok(await a.thread(tid))
    assert after == before
    assert [m["texts"][0]["text"] for m in await a.messages(tid)] == [
        "alpha secret text",
        "alpha secret text",
    ]
