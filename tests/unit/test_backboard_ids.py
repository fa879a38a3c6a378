"""The Backboard door's ids (gateway/doors/backboard/ids.py): only canonical UUIDs are addressed,
and each core message id is shown as one UUID, the same every time."""

from __future__ import annotations

import time
import uuid

import pytest

from gateway import errors
from gateway.doors.backboard.ids import assistant_path_id, is_uuid, message_uuid, new_uuid, thread_path_id
from gateway.ids import new_id


def test_only_canonical_uuids_are_addressed() -> None:
    u = str(uuid.uuid4())
    assert is_uuid(u) and thread_path_id(u) == u and assistant_path_id(u) == u
    for other in (u.upper(), u.replace("-", ""), "{" + u + "}", u + " ", "thread_abc", "", u[:-1] + "g"):
        assert not is_uuid(other)
    with pytest.raises(errors.ThreadNotFound):
        thread_path_id("thread_abc")
    with pytest.raises(errors.AssistantNotFound):
        assistant_path_id(u.upper())


def test_core_message_ids_become_version_8_uuids_holding_their_bits() -> None:
    for _ in range(200):
        core = new_id("msg")
        shown = message_uuid(core)
        parsed = uuid.UUID(shown)
        assert str(parsed) == shown and parsed.version == 8 and parsed.variant == uuid.RFC_4122
        assert shown == message_uuid(core)
        digits = shown.replace("-", "")
        assert "msg_" + digits[0:12] + digits[13:16] + digits[17:20] + digits[20:26] == core


def test_other_message_ids_become_their_name_based_uuid() -> None:
    shown = message_uuid("item_from_another_door")
    assert uuid.UUID(shown).version == 5 and shown == message_uuid("item_from_another_door")
    assert message_uuid("msg_" + "0" * 23) != message_uuid("msg_" + "1" * 23)


def test_new_ids_of_this_door_are_version_7_uuids_that_sort_by_time() -> None:
    before = time.time_ns() // 1_000_000
    made = []
    for _ in range(3):
        made += [new_uuid() for _ in range(300)]
        time.sleep(0.002)
    after = time.time_ns() // 1_000_000
    assert len(set(made)) == len(made)
    for value in made:
        parsed = uuid.UUID(value)
        assert is_uuid(value) and parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert before <= parsed.int >> 80 <= after
    times = [uuid.UUID(v).int >> 80 for v in made]
    assert times == sorted(times) and times[-1] > times[0]
    # The 74 random bits: every one of them set in some id, none of the fixed ones disturbed.
    seen = 0
    for value in made:
        n = uuid.UUID(value).int
        seen |= (n >> 64 & 0xFFF) << 62 | n & ((1 << 62) - 1)
    assert seen == (1 << 74) - 1
