"""The lifecycle rules of SPEC §4.3 and §6 as plain functions (no I/O)."""

from __future__ import annotations

import time

import msgspec
import pytest

from gateway.core.records import State, ThreadPatch, ThreadRecord, Usage
from gateway.core.rules import (
    MAX_METADATA_DEPTH,
    USER_MAX_CHARS,
    Limits,
    apply_patch,
    apply_turn,
    check_thread_assistant,
    expires_us,
    is_valid_thread_id,
    merge_metadata,
    nesting_depth,
    new_thread,
    now_us,
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
from gateway.settings import Settings

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


def test_a_refused_users_error_names_the_thread_and_the_user_asked_for() -> None:
    ann = new_thread("o", "t", metadata=None, visible=True, limits=LIMITS, at_us=0, user="ann")
    with pytest.raises(ConflictingParameters) as refused:
        thread_user(ann, "bob")
    assert refused.value.details == {"thread_id": "t", "user": "bob"}


def test_limits_from_settings_are_the_settings_seconds_in_microseconds() -> None:
    settings = Settings(
        max_messages_per_thread=7,
        max_metadata_bytes=99,
        thread_idle_ttl_s=1.5,
        thread_max_age_s=2.25,
        response_ttl_s=0.5,
    )
    assert Limits.from_settings(settings) == Limits(
        max_messages=7,
        max_metadata_bytes=99,
        idle_us=1_500_000,
        max_age_us=2_250_000,
        response_ttl_us=500_000,
    )


def test_now_us_reads_the_wall_clock_in_microseconds() -> None:
    before = time.time_ns() // 1000
    now = now_us()
    after = time.time_ns() // 1000
    assert before <= now <= after


@pytest.mark.parametrize(
    ("state", "error", "message"),
    [
        ("locked", ThreadLocked, "Thread 't' is locked and accepts no new messages."),
        ("archived", ThreadArchived, "Thread 't' is archived and accepts no new messages."),
    ],
)
def test_a_refused_turn_says_which_thread_and_why(state: State, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as refused:
        apply_turn(fresh(state), adding=1, usage=Usage(), next_state=None, limits=LIMITS, at_us=1)
    assert refused.value.message == message  # type: ignore[attr-defined]


def test_a_turn_past_the_message_limit_names_the_thread_and_the_counts() -> None:
    full = msgspec.structs.replace(fresh(), message_count=5)
    with pytest.raises(ThreadMessageLimit) as refused:
        apply_turn(full, adding=2, usage=Usage(), next_state=None, limits=LIMITS, at_us=1)
    assert refused.value.message == "Thread 't' holds 5 messages; adding 2 would pass the limit of 6."
    assert refused.value.details == {"message_count": 5, "adding": 2, "limit": 6}


@pytest.mark.parametrize(
    ("previous", "model", "expected"),
    [(None, "m1", "m1"), ("m0", "m1", "m1"), ("m0", None, "m0"), (None, None, None)],
)
def test_a_turn_records_its_model_else_keeps_the_last_one(
    previous: str | None, model: str | None, expected: str | None
) -> None:
    thread = msgspec.structs.replace(fresh(), last_model=previous)
    after = apply_turn(thread, adding=1, usage=Usage(), next_state=None, limits=LIMITS, at_us=1, model=model)
    assert after.last_model == expected


def owned_by(assistant_id: str | None) -> ThreadRecord:
    thread: ThreadRecord = fresh()
    return msgspec.structs.replace(thread, assistant_id=assistant_id)


@pytest.mark.parametrize(("thread_assistant", "named"), [(None, None), ("a1", None), ("a1", "a1")])
def test_naming_no_assistant_or_the_threads_own_is_accepted(
    thread_assistant: str | None, named: str | None
) -> None:
    check_thread_assistant(owned_by(thread_assistant), named)


@pytest.mark.parametrize(
    ("thread_assistant", "message"),
    [
        (None, "Thread 't' has no assistant; `assistant_id` 'a2' contradicts it."),
        ("a1", "Thread 't' belongs to assistant 'a1', not to 'a2'."),
    ],
)
def test_naming_another_assistant_than_the_threads_is_refused(
    thread_assistant: str | None, message: str
) -> None:
    with pytest.raises(ConflictingParameters) as refused:
        check_thread_assistant(owned_by(thread_assistant), "a2")
    assert refused.value.message == message
    assert refused.value.details == {
        "thread_id": "t",
        "assistant_id": "a2",
        "thread_assistant_id": thread_assistant,
    }


def test_a_patch_naming_another_assistant_is_refused_and_its_own_accepted() -> None:
    thread = owned_by("a1")
    with pytest.raises(ConflictingParameters):
        apply_patch(thread, ThreadPatch(assistant_id="a2"), LIMITS, 1)
    assert apply_patch(thread, ThreadPatch(assistant_id="a1", title="x"), LIMITS, 1).title == "x"


def test_a_refused_transition_names_the_thread_and_both_states() -> None:
    with pytest.raises(InvalidStateTransition) as refused:
        apply_patch(fresh("archived"), ThreadPatch(state="open"), LIMITS, 1)
    assert refused.value.message == "Thread 't' cannot go from 'archived' to 'open'."
    assert refused.value.details == {"from": "archived", "to": "open"}


def test_removing_a_metadata_key_that_is_not_there_changes_nothing() -> None:
    assert merge_metadata({"a": 1}, {"gone": None}) == {"a": 1}


def test_a_patch_that_makes_metadata_too_large_is_refused() -> None:
    with pytest.raises(MetadataTooLarge):
        apply_patch(fresh(), ThreadPatch(metadata={"k": "x" * 30}), LIMITS, 1)


def test_an_archived_threads_refusal_says_its_fields_are_final() -> None:
    with pytest.raises(ThreadArchived) as refused:
        apply_patch(fresh("archived"), ThreadPatch(title="new"), LIMITS, 1)
    assert refused.value.message == "Thread 't' is archived; its title, metadata and visibility are final."


def test_an_archived_thread_can_still_be_pinned_and_unpinned() -> None:
    pinned = apply_patch(fresh("archived"), ThreadPatch(pinned=True), LIMITS, 7)
    assert (pinned.pinned_us, pinned.updated_us, pinned.state) == (7, 7, "archived")
    assert apply_patch(pinned, ThreadPatch(pinned=False), LIMITS, 9).pinned_us is None


def test_a_patch_changes_visibility() -> None:
    hidden = apply_patch(fresh(), ThreadPatch(visible=False), LIMITS, 3)
    assert (hidden.visible, hidden.updated_us) == (False, 3)
    assert apply_patch(hidden, ThreadPatch(visible=True), LIMITS, 4).visible is True


@pytest.mark.parametrize(("title", "expected"), [(None, "old"), ("", None), ("new", "new")])
def test_a_patch_keeps_sets_or_clears_the_title(title: str | None, expected: str | None) -> None:
    thread = msgspec.structs.replace(fresh(), title="old")
    assert apply_patch(thread, ThreadPatch(title=title, visible=False), LIMITS, 1).title == expected


def test_pinning_again_keeps_the_pin_time_and_other_changes_leave_it() -> None:
    pinned = apply_patch(fresh(), ThreadPatch(pinned=True), LIMITS, 5)
    assert apply_patch(pinned, ThreadPatch(pinned=True, title="x"), LIMITS, 8).pinned_us == 5
    assert apply_patch(pinned, ThreadPatch(metadata={"b": 2}), LIMITS, 8).pinned_us == 5


def nested(levels: int) -> object:
    """A JSON value `levels` deep: lists in lists, alternating with objects."""
    value: object = 0
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


@pytest.mark.parametrize(
    ("value", "depth"),
    [
        (0, 0),
        ("text", 0),
        ({}, 1),
        ([], 1),
        ({"a": 1, "b": "x"}, 1),
        ([1, [2]], 2),
        ((1, (2, (3,))), 3),
        (nested(5), 5),
        ({"deep": [[{"k": 1}]], "flat": 2}, 4),  # a scalar sibling does not end the walk
        ({"a": nested(3), "b": nested(2), "c": []}, 4),
    ],
)
def test_nesting_depth_is_that_of_the_deepest_branch(value: object, depth: int) -> None:
    assert nesting_depth(value) == depth


def test_nesting_depth_stops_one_level_past_the_limit() -> None:
    assert nesting_depth(nested(MAX_METADATA_DEPTH)) == MAX_METADATA_DEPTH
    assert nesting_depth(nested(MAX_METADATA_DEPTH + 1)) == MAX_METADATA_DEPTH + 1
    assert nesting_depth(nested(MAX_METADATA_DEPTH + 10)) == MAX_METADATA_DEPTH + 1


def test_a_branch_deeper_than_the_limit_is_found_behind_one_at_the_limit() -> None:
    value = {"deeper": nested(MAX_METADATA_DEPTH + 1), "at_limit": nested(MAX_METADATA_DEPTH)}
    assert nesting_depth(value) == MAX_METADATA_DEPTH + 1


def test_metadata_nesting_deeper_than_the_limit_is_refused() -> None:
    roomy = msgspec.structs.replace(LIMITS, max_metadata_bytes=10_000)
    at_limit = {"k": nested(MAX_METADATA_DEPTH - 1)}
    assert new_thread("o", "t", metadata=at_limit, visible=True, limits=roomy, at_us=0).metadata == at_limit
    with pytest.raises(ValidationFailed) as refused:
        new_thread("o", "t", metadata={"k": nested(MAX_METADATA_DEPTH)}, visible=True, limits=roomy, at_us=0)
    assert refused.value.message == "Thread metadata nests 33 levels deep or more; the limit is 32."
    assert refused.value.details == {"limit": 32}


def test_too_large_metadata_is_refused_with_its_size_and_the_limit() -> None:
    with pytest.raises(MetadataTooLarge) as refused:
        new_thread("o", "t", metadata={"k": "x" * 25}, visible=True, limits=LIMITS, at_us=0)
    assert refused.value.message == "Thread metadata is 33 bytes as compact JSON; the limit is 32."
    assert refused.value.details == {"size": 33, "limit": 32}


@pytest.mark.parametrize("visible", [True, False])
def test_a_new_thread_is_as_visible_as_asked(visible: bool) -> None:
    assert new_thread("o", "t", metadata=None, visible=visible, limits=LIMITS, at_us=0).visible is visible


@pytest.mark.parametrize("user", ["a", "x" * USER_MAX_CHARS, " ann "])
def test_a_thread_takes_a_user_of_1_to_256_characters(user: str) -> None:
    assert new_thread("o", "t", metadata=None, visible=True, limits=LIMITS, at_us=0, user=user).user == user


@pytest.mark.parametrize("user", ["", "  ", "x" * (USER_MAX_CHARS + 1)])
def test_a_blank_or_too_long_user_is_refused(user: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        new_thread("o", "t", metadata=None, visible=True, limits=LIMITS, at_us=0, user=user)
    assert refused.value.message == "`user` must be 1 to 256 characters."
