"""PATCH /v1/threads/{id} over HTTP (SPEC §4): metadata merges, visibility, the state transitions
open/locked/archived and what each state allows, and refused patches that change nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import KEY_A, Api, err, make_settings, ok, running
from tests.e2e.threads_helpers import converse, create, listed_ids, patch, set_state, ts

# -- PATCH /v1/threads/{id} -----------------------------------------------------------------------


async def test_patch_metadata_merges_key_by_key_and_null_removes(a: Api) -> None:
    tid = (await create(a, metadata={"a": 1, "b": 2, "c": {"deep": True}, "keep": "me"}))["id"]
    thread = ok(await patch(a, tid, metadata={"b": None, "c": {"new": 1}, "d": [1, 2]}))
    expected = {"a": 1, "c": {"new": 1}, "d": [1, 2], "keep": "me"}
    assert thread["metadata"] == expected
    assert ok(await a.thread(tid))["metadata"] == expected
    # Removing a key that is not there is fine; the others stay.
    assert ok(await patch(a, tid, metadata={"zzz": None}))["metadata"] == expected
    assert ok(await patch(a, tid, metadata={"a": None, "d": None}))["metadata"] == {
        "c": {"new": 1},
        "keep": "me",
    }


async def test_patch_without_metadata_leaves_metadata_alone(a: Api) -> None:
    tid = (await create(a, metadata={"x": 1}))["id"]
    assert ok(await patch(a, tid, visible_in_ui=False))["metadata"] == {"x": 1}
    assert ok(await patch(a, tid, state="locked"))["metadata"] == {"x": 1}
    assert ok(await patch(a, tid))["metadata"] == {"x": 1}


async def test_patch_updates_updated_at(a: Api) -> None:
    made = await create(a)
    changed = ok(await patch(a, made["id"], metadata={"x": 1}))
    assert ts(changed["updated_at"]) >= ts(made["updated_at"])
    assert changed["created_at"] == made["created_at"]


@pytest.mark.parametrize(
    ("start", "target"),
    [("open", "locked"), ("locked", "open"), ("open", "archived"), ("locked", "archived")],
)
async def test_patch_allowed_state_transitions(a: Api, start: str, target: str) -> None:
    tid = (await create(a))["id"]
    if start != "open":
        await set_state(a, tid, start)
    thread = ok(await patch(a, tid, state=target))
    assert thread["state"] == target
    assert ok(await a.thread(tid))["state"] == target


@pytest.mark.parametrize("target", ["open", "locked"])
async def test_patch_archived_thread_cannot_change_state(a: Api, target: str) -> None:
    tid = (await create(a))["id"]
    before = await set_state(a, tid, "archived")
    err(await patch(a, tid, state=target), 409, "INVALID_STATE_TRANSITION")
    assert ok(await a.thread(tid)) == before


@pytest.mark.parametrize("state", ["open", "locked", "archived"])
async def test_patch_same_state_is_noop(a: Api, state: str) -> None:
    tid = (await create(a, metadata={"m": 1}))["id"]
    if state != "open":
        await set_state(a, tid, state)
    before = ok(await a.thread(tid))
    again = ok(await patch(a, tid, state=state))
    assert again["state"] == state
    assert again == before
    assert ok(await a.thread(tid)) == before


async def test_patch_archived_thread_metadata_change_is_refused(a: Api) -> None:
    tid = (await create(a, metadata={"m": 1}))["id"]
    before = await set_state(a, tid, "archived")
    err(await patch(a, tid, metadata={"m": 2}), 409, "THREAD_ARCHIVED")
    err(await patch(a, tid, metadata={"m": None}), 409, "THREAD_ARCHIVED")
    err(await patch(a, tid, metadata={"new": "key"}, state="archived"), 409, "THREAD_ARCHIVED")
    assert ok(await a.thread(tid)) == before


async def test_patch_archived_thread_visibility_change_is_refused(a: Api) -> None:
    tid = (await create(a))["id"]
    before = await set_state(a, tid, "archived")
    err(await patch(a, tid, visible_in_ui=False), 409, "THREAD_ARCHIVED")
    assert ok(await a.thread(tid)) == before
    assert await listed_ids(a) == [tid]
    assert await listed_ids(a, visible_in_ui="false") == []


async def test_archived_thread_is_readable_and_deletable(a: Api) -> None:
    tid, _ = await converse(a, 2)
    await set_state(a, tid, "archived")
    assert ok(await a.thread(tid))["message_count"] == 4
    assert len(await a.messages(tid)) == 4
    r = await a.delete(f"/v1/threads/{tid}")
    assert r.status_code == 204, r.text
    err(await a.thread(tid), 404, "THREAD_NOT_FOUND")


async def test_locked_thread_metadata_still_editable(a: Api) -> None:
    tid = (await create(a, metadata={"m": 1}))["id"]
    await set_state(a, tid, "locked")
    thread = ok(await patch(a, tid, metadata={"m": None, "reason": "done"}))
    assert thread["metadata"] == {"reason": "done"}
    assert thread["state"] == "locked"
    assert ok(await a.thread(tid))["metadata"] == {"reason": "done"}
    hidden = ok(await patch(a, tid, visible_in_ui=False))
    assert hidden["visible_in_ui"] is False and hidden["state"] == "locked"


async def test_locked_thread_accepts_no_turn_until_unlocked(a: Api) -> None:
    tid, _ = await converse(a, 1)
    await set_state(a, tid, "locked")
    err(await a.say("more", thread=tid), 409, "THREAD_LOCKED")
    assert ok(await a.thread(tid))["message_count"] == 2
    await set_state(a, tid, "open")
    assert ok(await a.say("more", thread=tid))["output_text"] == "m0\nmore"
    assert ok(await a.thread(tid))["message_count"] == 4


async def test_archived_thread_accepts_no_turn(a: Api) -> None:
    tid, _ = await converse(a, 1)
    await set_state(a, tid, "archived")
    err(await a.say("more", thread=tid), 409, "THREAD_ARCHIVED")
    assert ok(await a.thread(tid))["message_count"] == 2
    assert len(await a.messages(tid)) == 2


async def test_patch_visible_in_ui_moves_thread_between_lists(a: Api) -> None:
    tid = (await create(a))["id"]
    other = (await create(a))["id"]
    assert ok(await patch(a, tid, visible_in_ui=False))["visible_in_ui"] is False
    assert await listed_ids(a) == [other]
    assert await listed_ids(a, visible_in_ui="false") == [tid]
    assert ok(await patch(a, tid, visible_in_ui=True))["visible_in_ui"] is True
    assert sorted(await listed_ids(a)) == sorted([tid, other])
    assert await listed_ids(a, visible_in_ui="false") == []


async def test_patch_metadata_over_limit_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path, max_metadata_bytes=64)) as client:
        a = Api(client, KEY_A)
        tid = (await create(a, metadata={"a": "1"}))["id"]
        before = ok(await a.thread(tid))
        # {"a":"1","k":"..."} must stay <= 64 bytes once merged.
        err(await patch(a, tid, metadata={"k": "x" * 60}, state="locked"), 422, "METADATA_TOO_LARGE")
        assert ok(await a.thread(tid)) == before
        # Exactly at the limit after the merge is fine: {"a":"1","k":"<48>"} is 64 bytes.
        merged = ok(await patch(a, tid, metadata={"k": "x" * 48}))
        assert len(httpx.Response(200, json=merged["metadata"]).content) == 64
        # Removing keys makes room again.
        assert ok(await patch(a, tid, metadata={"k": None, "b": "2"}))["metadata"] == {"a": "1", "b": "2"}


async def test_patch_invalid_body_is_validation_error_and_nothing_changes(a: Api) -> None:
    tid = (await create(a, metadata={"a": 1}))["id"]
    before = ok(await a.thread(tid))
    bad_bodies: list[dict[str, Any]] = [
        {"name": "x"},
        {"metadata": {"a": 2}, "extra": True},
        {"metadata": {"a": 2}, "state": "closed"},
        {"state": "OPEN"},
        {"state": 1},
        {"visible_in_ui": "maybe"},
        {"metadata": "str"},
        {"metadata": [1]},
    ]
    for body in bad_bodies:
        err(await a.patch(f"/v1/threads/{tid}", json=body), 422, "VALIDATION_ERROR")
    assert ok(await a.thread(tid)) == before


async def test_patch_unknown_thread_is_not_found(a: Api) -> None:
    err(await patch(a, "no_such_thread", metadata={"x": 1}), 404, "THREAD_NOT_FOUND")
    err(await a.thread("no_such_thread"), 404, "THREAD_NOT_FOUND")
