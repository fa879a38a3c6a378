"""The newest history of recently used threads, kept in the worker process between turns.

A turn reads its thread's newest messages (about what the model's window holds, often a hundred or
more). Kept here, the next turn on the thread reads only the messages added since (usually the two
of the last turn, written by this worker or another), instead of reading and decoding its whole
window again.

What is kept is checked against the thread's row on every use, so it is never served wrong:
- messages are only ever appended with sequence numbers above every earlier one, in the same
  transaction that moves the thread's `next_seq`;
- any edit or deletion of a message adds one to the thread's `edits` counter (same transaction);
- a thread deleted (or expired) and made again under the same id has another `created_us`.
So while `created_us` and `edits` are the ones the entry was made with, every message it holds is
still the thread's, unchanged, and the thread's other newer messages are exactly those with a
sequence number above its newest. Both are read together, in one row read, before the messages:
an edit that lands between that read and the messages' makes the entry carry the older count, so
the next use reads again.

Bounded by the characters held (`GATEWAY_HISTORY_CACHE_MB`, least recently used first out); the
reader threads share it under a lock. Each entry holds at most `MAX_KEPT` messages.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from cachetools import LRUCache

from gateway.core.records import HistoryMessage

MAX_KEPT = 1024  # the most messages a turn's first read asks for (gateway.core.budget.MAX_BATCH)
_OVERHEAD = 64  # counted per message besides its text: the objects that hold it

History = Callable[[sqlite3.Connection, str, tuple[Any, ...]], list[HistoryMessage]]
RECENT = "org = ? AND thread_id = ? AND seq < ? AND role != 'system'"
_SINCE = "org = ? AND thread_id = ? AND seq > ? AND role != 'system'"


def _size(messages: list[HistoryMessage]) -> int:
    return sum(m.message.chars + _OVERHEAD for m in messages)


class _Window:
    """A thread's newest non-system messages, newest first, with nothing missing between them."""

    __slots__ = ("created_us", "edits", "messages", "size", "whole")

    def __init__(
        self, created_us: int, edits: int, messages: list[HistoryMessage], whole: bool, size: int
    ) -> None:
        self.created_us = created_us
        self.edits = edits
        self.messages = messages
        self.whole = whole  # no older non-system message exists
        self.size = size


class Windows:
    """`recent(db, ...)`: a thread's newest non-system messages, through the kept window."""

    def __init__(self, max_bytes: int) -> None:
        self._on = max_bytes > 0
        self._kept: LRUCache[tuple[str, str], _Window] = LRUCache(
            maxsize=max(max_bytes, 1), getsizeof=lambda w: w.size
        )
        self._lock = threading.Lock()

    def holds(self, org: str, thread_id: str) -> bool:
        with self._lock:
            return (org, thread_id) in self._kept

    def recent(
        self, db: sqlite3.Connection, org: str, thread_id: str, limit: int, read: History
    ) -> list[HistoryMessage]:
        """Up to `limit` of the thread's newest non-system messages, newest first (as `read` over
        `seq < ?` would give them)."""
        if not self._on:
            return read(db, RECENT, (org, thread_id, 2**62, limit))
        key = (org, thread_id)
        with self._lock:
            kept = self._kept.get(key)
        # Both in one row read: which life of the id, and how many edits it has had.
        row = db.execute("SELECT created_us, edits FROM threads WHERE org = ? AND id = ?", key).fetchone()
        if row is None:  # gone since the caller read it
            return read(db, RECENT, (org, thread_id, 2**62, limit))
        created_us, edits = int(row[0]), int(row[1])
        if kept is not None and kept.created_us == created_us and kept.edits == edits:
            added = read(db, _SINCE, (org, thread_id, kept.messages[0].seq, limit))
            if len(added) < limit and (kept.whole or len(kept.messages) + len(added) >= limit):
                merged = added + kept.messages
                size = kept.size + _size(added)
                self._keep(key, _Window(created_us, edits, merged, kept.whole, size), limit)
                return merged[:limit]
        found = read(db, RECENT, (org, thread_id, 2**62, limit))
        if found:  # a copy: the caller's list is its own
            self._keep(key, _Window(created_us, edits, list(found), len(found) < limit, _size(found)), limit)
        return found

    def _keep(self, key: tuple[str, str], window: _Window, limit: int) -> None:
        # Room for the next turns' messages and a larger next read, not the whole thread.
        room = min(MAX_KEPT, max(2 * limit, 64))
        if len(window.messages) > room:
            window.size -= _size(window.messages[room:])
            window.messages = window.messages[:room]
            window.whole = False
        with self._lock:
            if window.size <= self._kept.maxsize:
                self._kept[key] = window
