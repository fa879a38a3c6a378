"""The thread lifecycle rules (SPEC §4.3, §6) as plain functions over records.

Stores call these inside their atomic sections, so the rules hold under concurrency without the
stores knowing them.
"""

from __future__ import annotations

import re
import time
from typing import Any

import msgspec

from gateway.core.records import State, ThreadPatch, ThreadRecord, Usage
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

# \Z, not $: `$` would also accept a trailing newline. At least one character that is not a dot: `.`
# and `..` are path segments that standard clients resolve away, so such a thread is unreachable.
THREAD_ID_RE = re.compile(r"^[A-Za-z0-9_\-.:]*[A-Za-z0-9_\-:][A-Za-z0-9_\-.:]*\Z")
THREAD_ID_MAX = 128
USER_MAX_CHARS = 256
_US = 1_000_000

# Allowed moves; staying in the same state is always a no-op (SPEC §4.3).
_TRANSITIONS: dict[State, frozenset[State]] = {
    "open": frozenset({"locked", "archived"}),
    "locked": frozenset({"open", "archived"}),
    "archived": frozenset(),
}


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    max_messages: int
    max_metadata_bytes: int
    idle_us: int
    max_age_us: int
    response_ttl_us: int

    @classmethod
    def from_settings(cls, s: Settings) -> Limits:
        return cls(
            max_messages=s.max_messages_per_thread,
            max_metadata_bytes=s.max_metadata_bytes,
            idle_us=int(s.thread_idle_ttl_s * _US),
            max_age_us=int(s.thread_max_age_s * _US),
            response_ttl_us=int(s.response_ttl_s * _US),
        )


def now_us() -> int:
    return time.time_ns() // 1000


def is_valid_thread_id(value: str) -> bool:
    return len(value) <= THREAD_ID_MAX and THREAD_ID_RE.fullmatch(value) is not None


def expires_us(thread: ThreadRecord, limits: Limits) -> int:
    """When the thread expires: at its age limit, and sooner when open and idle."""
    by_age = thread.created_us + limits.max_age_us
    if thread.state != "open":
        return by_age
    return min(by_age, thread.activity_us + limits.idle_us)


def is_expired(thread: ThreadRecord, at_us: int) -> bool:
    return thread.expires_us <= at_us


def tombstone_expires_us(thread: ThreadRecord, limits: Limits) -> int:
    """A deleted or expired id is remembered until the age limit of the thread it named."""
    return thread.created_us + limits.max_age_us


def metadata_size(metadata: dict[str, Any]) -> int:
    return len(msgspec.json.encode(metadata))


# Deeper metadata is refused: clients with recursive JSON decoders (Python's stops near 1,000 levels)
# could not read back a thread list holding it.
MAX_METADATA_DEPTH = 32


def nesting_depth(value: Any) -> int:
    """How deep objects and arrays nest in a JSON value (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        if depth + 1 > MAX_METADATA_DEPTH:
            return depth + 1  # deep enough to refuse: no need to walk the rest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def check_metadata(metadata: dict[str, Any], limits: Limits, *, owner: str = "Thread") -> None:
    depth = nesting_depth(metadata)
    if depth > MAX_METADATA_DEPTH:
        raise ValidationFailed(
            f"{owner} metadata nests {depth} levels deep or more; the limit is {MAX_METADATA_DEPTH}.",
            details={"limit": MAX_METADATA_DEPTH},
        )
    size = metadata_size(metadata)
    if size > limits.max_metadata_bytes:
        raise MetadataTooLarge(
            f"{owner} metadata is {size} bytes as compact JSON; the limit is {limits.max_metadata_bytes}.",
            details={"size": size, "limit": limits.max_metadata_bytes},
        )


def new_thread(
    org: str,
    thread_id: str,
    *,
    metadata: dict[str, Any] | None,
    visible: bool,
    limits: Limits,
    at_us: int,
    user: str | None = None,
) -> ThreadRecord:
    meta = dict(metadata or {})
    check_metadata(meta, limits)
    draft = ThreadRecord(
        org=org,
        id=thread_id,
        visible=visible,
        metadata=meta,
        created_us=at_us,
        updated_us=at_us,
        expires_us=0,
        user=check_user(user),
    )
    return msgspec.structs.replace(draft, expires_us=expires_us(draft, limits))


def check_accepts_turn(thread: ThreadRecord) -> None:
    if thread.state == "locked":
        raise ThreadLocked(f"Thread '{thread.id}' is locked and accepts no new messages.")
    if thread.state == "archived":
        raise ThreadArchived(f"Thread '{thread.id}' is archived and accepts no new messages.")


def check_message_limit(current: int, adding: int, limits: Limits, thread_id: str) -> None:
    if current + adding > limits.max_messages:
        raise ThreadMessageLimit(
            f"Thread '{thread_id}' holds {current} messages; adding {adding} would pass the limit of "
            f"{limits.max_messages}.",
            details={"message_count": current, "adding": adding, "limit": limits.max_messages},
        )


def check_thread_assistant(thread: ThreadRecord, named: str | None) -> None:
    """A turn (or a PATCH) that names an assistant must name its thread's: a thread's assistant is set
    when the thread is created (SPEC §11). 400 `CONFLICTING_PARAMETERS` otherwise."""
    if named is None or named == thread.assistant_id:
        return
    if thread.assistant_id is None:
        message = f"Thread '{thread.id}' has no assistant; `assistant_id` '{named}' contradicts it."
    else:
        message = f"Thread '{thread.id}' belongs to assistant '{thread.assistant_id}', not to '{named}'."
    raise ConflictingParameters(
        message,
        details={"thread_id": thread.id, "assistant_id": named, "thread_assistant_id": thread.assistant_id},
    )


def check_user(user: str | None) -> str | None:
    """An end user's name (SPEC §12): 1 to `USER_MAX_CHARS` characters, not blank; 422 otherwise."""
    if user is not None and (not user.strip() or len(user) > USER_MAX_CHARS):
        raise ValidationFailed(f"`user` must be 1 to {USER_MAX_CHARS} characters.")
    return user


def thread_user(thread: ThreadRecord, named: str | None) -> str | None:
    """The end user of a turn on `thread` (its memory scope, SPEC §12): the one it names, else the
    thread's. A thread's user is set when the thread is created; a turn naming another is 400
    `CONFLICTING_PARAMETERS`, so that one user's turn never reads another's memories through a
    shared thread. A thread without a user takes any (each turn is scoped to the user it names)."""
    if named is None or thread.user is None or named == thread.user:
        return named or thread.user
    raise ConflictingParameters(
        f"Thread '{thread.id}' belongs to another user; `user` '{named}' contradicts it.",
        details={"thread_id": thread.id, "user": named},
    )


def check_transition(thread: ThreadRecord, target: State) -> None:
    if target == thread.state:
        return
    if target not in _TRANSITIONS[thread.state]:
        raise InvalidStateTransition(
            f"Thread '{thread.id}' cannot go from '{thread.state}' to '{target}'.",
            details={"from": thread.state, "to": target},
        )


def merge_metadata(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Merge key by key; a `None` value removes the key."""
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def apply_patch(thread: ThreadRecord, patch: ThreadPatch, limits: Limits, at_us: int) -> ThreadRecord:
    """PATCH of SPEC §4.2 and §10: title, metadata, visibility and pinning first, then the state.
    An `assistant_id` may only repeat the thread's own."""
    check_thread_assistant(thread, patch.assistant_id)
    if thread.state == "archived":
        # The state is checked first so that "archived -> open" reads as a bad transition.
        if patch.state is not None:
            check_transition(thread, patch.state)
        if patch.metadata or patch.visible is not None or patch.title is not None:
            raise ThreadArchived(
                f"Thread '{thread.id}' is archived; its title, metadata and visibility are final."
            )
        if patch.pinned is None:
            return thread
    metadata = thread.metadata
    if patch.metadata:
        metadata = merge_metadata(thread.metadata, patch.metadata)
        check_metadata(metadata, limits)
    state: State = thread.state
    if patch.state is not None:
        check_transition(thread, patch.state)
        state = patch.state
    visible = thread.visible if patch.visible is None else patch.visible
    title = thread.title if patch.title is None else (patch.title or None)
    pinned_us = thread.pinned_us
    if patch.pinned is not None:
        # Pinning is the reader's bookmark, allowed on an archived thread too; pinning again keeps the time.
        pinned_us = (thread.pinned_us or at_us) if patch.pinned else None
    before = (thread.metadata, thread.state, thread.visible, thread.title, thread.pinned_us)
    if (metadata, state, visible, title, pinned_us) == before:
        return thread
    changed = msgspec.structs.replace(
        thread,
        metadata=metadata,
        state=state,
        visible=visible,
        title=title,
        pinned_us=pinned_us,
        updated_us=at_us,
    )
    return msgspec.structs.replace(changed, expires_us=expires_us(changed, limits))


def apply_turn(
    thread: ThreadRecord,
    *,
    adding: int,
    usage: Usage,
    next_state: State | None,
    limits: Limits,
    at_us: int,
    model: str | None = None,
) -> ThreadRecord:
    """The thread after a turn of `adding` messages: checked, counted, then `threadState` applied."""
    check_accepts_turn(thread)
    check_message_limit(thread.message_count, adding, limits, thread.id)
    state: State = thread.state
    if next_state is not None:
        check_transition(thread, next_state)
        state = next_state
    changed = msgspec.structs.replace(
        thread,
        state=state,
        message_count=thread.message_count + adding,
        input_tokens=thread.input_tokens + usage.input_tokens,
        output_tokens=thread.output_tokens + usage.output_tokens,
        updated_us=at_us,
        last_message_us=at_us,
        last_model=model or thread.last_model,
    )
    return msgspec.structs.replace(changed, expires_us=expires_us(changed, limits))


def check_accepts_edit(thread: ThreadRecord) -> None:
    """Messages are edited or deleted on open threads only (as they are added)."""
    check_accepts_turn(thread)
