"""The lifecycle rules of SPEC §4.3 and §6 as plain functions (no I/O)."""

from __future__ import annotations

import msgspec
import pytest

from gateway.core.records import State, ThreadPatch, Usage
from gateway.core.rules import (
    Limits,
    apply_patch,
    apply_turn,
    expires_us,
    is_valid_thread_id,
    merge_metadata,
    new_thread,
    thread_user,
    tombstone_expires_us,
)
from gateway.errors import (
    ConflictingParameters,
    InvalidStateTransition,
    MetadataTooLarge,
    ThreadArchived,
    ThreadLocked,
    ThreadMessageLimit,
    ValidationFailed,
)

S = 1_000_000
LIMITS = Limits(max_messages=6, max_metadata_bytes=32, idle_us=10 * S, max_age_us=100 * S, response_ttl_us=S)


def fresh(state: State = "open", at: int = 0):  # type: ignore[no-untyped-def]
    t = new_thread("o", "t", metadata={"a": 1}, visible=True, limits=LIMITS, at_us=at)
    return msgspec.structs.replace(t, state=state)


@pytest.mark.parametrize(
    ("start", "target", "allowed"),
    [
        ("open", "locked", True),
        ("open", "archived", True),
        ("open", "open", True),
        ("locked", "open", True),
        ("locked", "archived", True),
        ("locked", "locked", True),
        ("archived", "archived", True),
        ("archived", "open", False),
        ("archived", "locked", False),
    ],
)
def test_state_transitions_follow_the_lifecycle(start: State, target: State, allowed: bool) -> None:
    thread = fresh(start)
    if allowed:
        assert apply_patch(thread, ThreadPatch(state=target), LIMITS, 5).state == target
    else:
        with pytest.raises(InvalidStateTransition):
            apply_patch(thread, ThreadPatch(state=target), LIMITS, 5)


def test_same_state_is_a_no_op_that_changes_nothing() -> None:
    thread = fresh("locked")
    assert apply_patch(thread, ThreadPatch(state="locked"), LIMITS, 99) is thread


def test_archived_refuses_metadata_and_visibility_changes() -> None:
    with pytest.raises(ThreadArchived):
        apply_patch(fresh("archived"), ThreadPatch(metadata={"k": "v"}), LIMITS, 1)
    with pytest.raises(ThreadArchived):
        apply_patch(fresh("archived"), ThreadPatch(visible=False), LIMITS, 1)


def test_metadata_merges_key_by_key_and_null_removes() -> None:
    assert merge_metadata({"a": 1, "b": 2}, {"b": None, "c": 3}) == {"a": 1, "c": 3}
    patched = apply_patch(fresh("locked"), ThreadPatch(metadata={"b": 2}), LIMITS, 7)
    assert patched.metadata == {"a": 1, "b": 2} and patched.updated_us == 7


def test_metadata_limit_counts_compact_json_bytes() -> None:
    exact = {"k": "x" * 24}  # {"k":"xxx…"} is 32 bytes
    assert len(msgspec.json.encode(exact)) == 32
    new_thread("o", "t", metadata=exact, visible=True, limits=LIMITS, at_us=0)
    with pytest.raises(MetadataTooLarge):
        new_thread("o", "t", metadata={"k": "x" * 25}, visible=True, limits=LIMITS, at_us=0)


def test_turn_refused_on_locked_and_archived_threads() -> None:
    with pytest.raises(ThreadLocked):
        apply_turn(fresh("locked"), adding=2, usage=Usage(), next_state=None, limits=LIMITS, at_us=1)
    with pytest.raises(ThreadArchived):
        apply_turn(fresh("archived"), adding=2, usage=Usage(), next_state=None, limits=LIMITS, at_us=1)


def test_turn_counts_messages_usage_and_applies_state_after() -> None:
    t = apply_turn(
        fresh(),
        adding=2,
        usage=Usage(input_tokens=3, output_tokens=4),
        next_state="locked",
        limits=LIMITS,
        at_us=5,
    )
    assert (t.message_count, t.input_tokens, t.output_tokens, t.state) == (2, 3, 4, "locked")
    assert t.last_message_us == 5 and t.updated_us == 5


def test_message_limit_counts_the_whole_turn() -> None:
    t = msgspec.structs.replace(fresh(), message_count=4)
    apply_turn(t, adding=2, usage=Usage(), next_state=None, limits=LIMITS, at_us=1)
    with pytest.raises(ThreadMessageLimit):
        apply_turn(t, adding=3, usage=Usage(), next_state=None, limits=LIMITS, at_us=1)


def test_open_threads_expire_when_idle_others_only_at_age_limit() -> None:
    t = fresh(at=0)
    assert expires_us(t, LIMITS) == 10 * S
    later = apply_turn(t, adding=2, usage=Usage(), next_state=None, limits=LIMITS, at_us=95 * S)
    assert later.expires_us == 100 * S  # the age limit caps the idle one
    locked = apply_patch(t, ThreadPatch(state="locked"), LIMITS, 1)
    assert locked.expires_us == 100 * S
    assert tombstone_expires_us(t, LIMITS) == 100 * S


@pytest.mark.parametrize("value", ["a", "A-z_0.9:x", "x" * 128, "thread_user123_session1"])
def test_valid_thread_ids(value: str) -> None:
    assert is_valid_thread_id(value)


@pytest.mark.parametrize("value", ["", "x" * 129, "a b", "a/b", "é", "a\n", "a?b", "{$ne:1}"])
def test_invalid_thread_ids(value: str) -> None:
    assert not is_valid_thread_id(value)


def test_a_turns_user_is_its_own_else_its_threads_and_another_than_the_threads_is_refused() -> None:
    ann = new_thread("o", "t", metadata=None, visible=True, limits=LIMITS, at_us=0, user="ann")
    nobody = new_thread("o", "t", metadata=None, visible=True, limits=LIMITS, at_us=0)
    assert (thread_user(ann, None), thread_user(ann, "ann")) == ("ann", "ann")
    assert (thread_user(nobody, None), thread_user(nobody, "bob")) == (None, "bob")
    with pytest.raises(ConflictingParameters) as refused:
        thread_user(ann, "bob")
    assert "ann" not in refused.value.message  # another user's name is not told
    with pytest.raises(ValidationFailed):
        new_thread("o", "t", metadata=None, visible=True, limits=LIMITS, at_us=0, user=" ")
