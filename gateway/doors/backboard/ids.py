"""Backboard's ids are UUIDs (its SDK's models parse every id as one), the gateway's are strings.

- Threads and assistants made through this door get a version-7 UUID as their id (RFC 9562: the
  time in milliseconds, then 74 random bits), so that new rows sort by time in the stores' indexes
  as the core's ids do (see gateway/ids.py). The door addresses only objects whose id is a UUID in
  its canonical form (lower-case, hyphenated): any other id answers 404 here, as an absent
  object does, so a Backboard client never receives an id its models reject. A thread made
  elsewhere with such an id is the same thread here.
- Messages keep the core's ids (`msg_` and 24 hex digits); the door shows each as a UUID derived
  from it, the same every time: the 96 bits of the id's digits laid into a version-8 UUID (RFC 9562's
  layout for custom UUIDs), so that the core's id can be read back from it (`msg_` and its hex
  digits without the fixed version, variant and mark digits). An id of another form is shown as the
  name-based (version-5) UUID of it.
"""

from __future__ import annotations

import os
import re
import time
import uuid

from gateway import errors

_CANONICAL = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_CORE_MESSAGE = re.compile(r"^msg_([0-9a-f]{24})\Z")
# The namespace of the version-5 UUIDs of message ids that are not the core's usual form.
_NAMESPACE = uuid.UUID("0b6f4a2e-6c1d-4f5e-9a8b-2d3c4e5f6a7b")
# The last 24 bits of a version-8 message UUID: a fixed mark of this mapping.
_MARK = "0bb0b0"


def is_uuid(value: str) -> bool:
    """Whether `value` is a UUID in canonical form (the only ids this door addresses)."""
    return _CANONICAL.fullmatch(value) is not None


def new_uuid() -> str:
    """A version-7 UUID: 48 bits of the time in milliseconds, the version, 12 random bits, the
    variant, 62 random bits."""
    ms = time.time_ns() // 1_000_000 & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(10)) >> 6  # 74 bits
    value = ms << 80 | 0x7 << 76 | (rand >> 62) << 64 | 0b10 << 62 | rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def thread_path_id(value: str) -> str:
    """A thread id of a path: 404 `THREAD_NOT_FOUND` for one this door cannot address."""
    if not is_uuid(value):
        raise errors.ThreadNotFound(value[:128])
    return value


def assistant_path_id(value: str) -> str:
    """An assistant id of a path or a body: 404 `ASSISTANT_NOT_FOUND` for one this door cannot
    address."""
    if not is_uuid(value):
        raise errors.AssistantNotFound(value[:128])
    return value


def message_uuid(message_id: str) -> str:
    """The UUID this door shows for a message of the core."""
    core = _CORE_MESSAGE.fullmatch(message_id)
    if core is None:
        return str(uuid.uuid5(_NAMESPACE, message_id))
    h = core.group(1)
    # 8-4-4-4-12: the version nibble 8 and the variant nibble 8 are fixed, the mark ends it.
    return f"{h[0:8]}-{h[8:12]}-8{h[12:15]}-8{h[15:18]}-{h[18:24]}{_MARK}"
