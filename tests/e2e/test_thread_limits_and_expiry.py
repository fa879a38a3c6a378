"""Threads over HTTP at their limits (SPEC §4, §6): malformed bodies, the metadata and message limits,
and `expires_at` with the expiry of idle open threads."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import KEY_A, Api, err, make_settings, ok, running
from tests.e2e.threads_helpers import converse, create, listed_ids, meta_of_size, patch, set_state, ts

# -- malformed input, §6 limits as seen on threads ------------------------------------------------


async def test_malformed_bodies_are_validation_errors(a: Api) -> None:
    tid = (await create(a, metadata={"a": 1}))["id"]
    before = ok(await a.thread(tid))
    headers = {"Content-Type": "application/json"}
    for raw in [b"not json", b"{", b"[]", b'"text"', b"42", b"\xff\xfe"]:
        err(await a.post("/v1/threads", content=raw, headers=headers), 422, "VALIDATION_ERROR")
        err(await a.patch(f"/v1/threads/{tid}", content=raw, headers=headers), 422, "VALIDATION_ERROR")
    assert ok(await a.thread(tid)) == before
    assert await listed_ids(a) == [tid]


async def test_default_metadata_limit_is_16384_bytes(a: Api) -> None:
    at_limit = meta_of_size(16_384)
    assert (await create(a, id="big", metadata=at_limit))["metadata"] == at_limit
    err(await a.post("/v1/threads", json={"metadata": meta_of_size(16_385)}), 422, "METADATA_TOO_LARGE")
    err(await patch(a, "big", metadata={"more": 1}), 422, "METADATA_TOO_LARGE")
    assert ok(await a.thread("big"))["metadata"] == at_limit


async def test_thread_message_limit_refuses_turn_and_saves_nothing(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path, max_messages_per_thread=4)) as client:
        a = Api(client, KEY_A)
        tid, _ = await converse(a, 2)
        err(await a.say("third", thread=tid), 409, "THREAD_MESSAGE_LIMIT")
        thread = ok(await a.thread(tid))
        assert thread["message_count"] == 4
        assert len(await a.messages(tid)) == 4


# -- expiry ---------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.us = 1_800_000_000 * 1_000_000

    def __call__(self) -> int:
        return self.us

    def advance(self, days: float) -> None:
        self.us += int(days * 86_400 * 1_000_000)


DAY_S = 86_400


async def test_expires_at_follows_inactivity_for_open_and_age_for_locked(tmp_path: Path) -> None:
    clock = FakeClock()
    async with running(make_settings(tmp_path), clock=clock) as client:
        a = Api(client, KEY_A)
        made = await create(a, id="exp")
        created_at = ts(made["created_at"])
        assert (ts(made["expires_at"]) - created_at).total_seconds() == 90 * DAY_S
        clock.advance(10)
        ok(await a.say("later", thread="exp"))
        turned = ok(await a.thread("exp"))
        assert (ts(turned["last_message_at"]) - created_at).total_seconds() == 10 * DAY_S
        assert (ts(turned["expires_at"]) - created_at).total_seconds() == 100 * DAY_S
        locked = await set_state(a, "exp", "locked")
        assert (ts(locked["expires_at"]) - created_at).total_seconds() == 365 * DAY_S


async def test_idle_open_thread_expires_but_locked_one_is_kept(tmp_path: Path) -> None:
    clock = FakeClock()
    async with running(make_settings(tmp_path), clock=clock) as client:
        a = Api(client, KEY_A)
        await create(a, id="idle")
        await create(a, id="kept")
        await set_state(a, "kept", "locked")
        clock.advance(91)
        err(await a.thread("idle"), 404, "THREAD_NOT_FOUND")
        err(await a.get("/v1/threads/idle/messages"), 404, "THREAD_NOT_FOUND")
        assert await listed_ids(a) == ["kept"]
        assert ok(await a.thread("kept"))["state"] == "locked"
        # An expired id is not reborn by a turn.
        err(await a.say("x", thread="idle"), 404, "THREAD_NOT_FOUND")
