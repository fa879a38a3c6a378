"""The lifecycle steps every backend takes, written once (SPEC §3 rule 1, §4.2, §6).

A backend reads what it holds of an id (the thread, or its tombstone) and asks these functions what
that means and what may be done; it then does the writing in its own atomic section.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import msgspec

from gateway.core.records import Page, ResponseRecord, ThreadFilter, ThreadRecord
from gateway.core.rules import is_expired
from gateway.errors import ThreadAlreadyExists, ThreadNotFound
from gateway.store.protocols import IdemInFlight, IdemMismatch, IdemReplay
from providers.base import ChatMessage


class Standing(enum.Enum):
    """What an id of an organization is, at one moment."""

    LIVE = "live"
    EXPIRED = "expired"  # a thread past its time that no purge removed yet: to be tombstoned
    TOMBSTONED = "tombstoned"  # deleted or expired, remembered until its age limit
    FREE = "free"  # never used, or its tombstone is past its own limit


def standing(thread: ThreadRecord | None, tomb_until_us: int | None, at_us: int) -> Standing:
    """`thread`: the stored thread of the id, if any; `tomb_until_us`: its tombstone's end, if any."""
    if thread is not None:
        return Standing.EXPIRED if is_expired(thread, at_us) else Standing.LIVE
    if tomb_until_us is not None and tomb_until_us > at_us:
        return Standing.TOMBSTONED
    return Standing.FREE


def is_gone(s: Standing) -> bool:
    """The id answers 404 to a turn: deleted or expired, and not yet free again."""
    return s in (Standing.EXPIRED, Standing.TOMBSTONED)


def check_create(s: Standing, thread_id: str) -> None:
    """An explicit create takes any id but a live one: a deleted or expired id may be used again."""
    if s is Standing.LIVE:
        raise ThreadAlreadyExists(f"Thread '{thread_id}' already exists.")


def turn_base(
    s: Standing, thread: ThreadRecord | None, create: ThreadRecord | None, thread_id: str
) -> tuple[ThreadRecord, bool]:
    """The thread a turn extends and whether the turn creates it.

    A turn creates a thread only on a free id: a deleted or expired id is not silently reborn.
    """
    if s is Standing.LIVE and thread is not None:
        return thread, False
    if s is Standing.FREE and create is not None:
        return create, True
    raise ThreadNotFound(thread_id)


def in_thread_list(thread: ThreadRecord | None, f: ThreadFilter, at_us: int) -> bool:
    """Whether `thread` is an item of the thread list with these filters (so a valid cursor)."""
    return (
        thread is not None
        and not is_expired(thread, at_us)
        and thread.visible == f.visible
        and (f.state is None or thread.state == f.state)
        and (f.pinned is None or (thread.pinned_us is not None) == f.pinned)
        and (f.assistant_id is None or thread.assistant_id == f.assistant_id)
    )


def reads_descending(f: ThreadFilter, before: str | None) -> bool:
    """The order a page is read in: the list's, or against it for the page `before` a cursor (read
    nearest first, then turned round by `page`)."""
    return f.descending != (before is not None)


def page[T](rows: Sequence[T], limit: int, *, backwards: bool = False, total: int | None = None) -> Page[T]:
    """A page from `limit + 1` rows read: the extra row only says that more follow. `backwards`:
    the rows were read against the list's order (a page before a cursor), and are turned round."""
    items = list(rows[:limit])
    if backwards:
        items.reverse()
    return Page(items=items, has_more=len(rows) > limit, total=total)


def referenced_count(response: ResponseRecord) -> int:
    """How many thread messages the response's `context_ref` names."""
    return sum(b - a + 1 for a, b in response.context_ref or ())


def with_context(response: ResponseRecord, messages: Sequence[ChatMessage]) -> ResponseRecord | None:
    """A stored response with the thread messages it names read back into its `context`.

    Fewer messages than it names: the thread's messages are gone, and so is the response.
    """
    if len(messages) != referenced_count(response):
        return None
    return msgspec.structs.replace(response, context=tuple(messages))


class IdemRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What a store holds of an idempotency key (its backend-neutral fields)."""

    fingerprint: str
    token: int
    held_until_us: int  # while its request runs
    answer: ResponseRecord | None  # once its request saved a turn
    expires_us: int


def idem_standing(
    record: IdemRecord | None, fingerprint: str, at_us: int
) -> IdemReplay | IdemInFlight | IdemMismatch | None:
    """What a key's stored record means for a new request; None: the request may claim the key
    (never used, expired, or its holder ran out of time without saving a turn)."""
    if record is None or record.expires_us <= at_us:
        return None
    if record.fingerprint != fingerprint:
        return IdemMismatch()
    if record.answer is not None:
        return IdemReplay(response=record.answer)
    if record.held_until_us > at_us:
        return IdemInFlight()
    return None


def next_token(record: IdemRecord | None) -> int:
    """A claim's fencing token: one more than the last claim's, so a late holder cannot finish."""
    return 1 if record is None else record.token + 1
