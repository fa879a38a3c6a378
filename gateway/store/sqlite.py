"""The embedded store: SQLite in WAL mode, safe across several worker processes.

Statements run off the event loop (see `sqlite_engine`: one writer thread with group commit, reader
threads). Writers take the database lock up front (`BEGIN IMMEDIATE`), which serializes concurrent
turns on one thread across processes: sequence numbers, the message count and the limit are read and written
under that lock, and a raise inside the transaction rolls everything back.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Sequence
from typing import Any

import msgspec

from gateway.errors import ThreadAlreadyExists, ThreadNotFound
from gateway.records import (
    HistoryMessage,
    MessageRecord,
    Page,
    ResponseRecord,
    State,
    ThreadRecord,
    with_turn_inputs,
)
from gateway.store.base import CursorNotFound, PurgeReport, ThreadUpdate, TurnView
from gateway.store.sqlite_engine import SqliteEngine
from gateway.store.sqlite_schema import (
    _MSG_COLS,
    _SCHEMA,
    _THREAD_COLS,
    _json_encode,
    _message_of,
    _resp_decode,
    _resp_encode,
    _texts_decode,
    _thread_of,
    _thread_row,
)
from gateway.threads import Limits, is_expired, tombstone_expires_us
from providers.base import ChatMessage

_PURGE_BATCH = 500
_INSERT_ROWS = 256  # 8 variables a row: 2,048 a statement, far below SQLite's limit
_history_decode = msgspec.json.Decoder(list[HistoryMessage]).decode
_by_seq = operator.attrgetter("seq")


class SqliteStore:
    """The embedded default store, a file under `data_dir`."""

    backend = "sqlite"

    def __init__(
        self, path: str, limits: Limits, *, busy_timeout_s: float = 10.0, synchronous: str = "FULL"
    ) -> None:
        self._limits = limits
        self._engine = SqliteEngine(path, busy_timeout_ms=int(busy_timeout_s * 1000), synchronous=synchronous)

    async def open(self) -> None:
        await self._engine.open(_SCHEMA)

    async def close(self) -> None:
        await self._engine.close()

    async def ping(self) -> None:
        await self._engine.read(lambda db: db.execute("SELECT 1").fetchone())

    # -- threads --------------------------------------------------------------------------------

    def _load(self, db: sqlite3.Connection, org: str, thread_id: str) -> ThreadRecord | None:
        row = db.execute(
            f"SELECT {_THREAD_COLS} FROM threads WHERE org = ? AND id = ?", (org, thread_id)
        ).fetchone()
        return None if row is None else _thread_of(row)

    def _remove(self, db: sqlite3.Connection, thread: ThreadRecord) -> list[str]:
        """Delete a thread with its messages and responses and leave its tombstone."""
        key = (thread.org, thread.id)
        response_ids = [
            r[0] for r in db.execute("SELECT id FROM responses WHERE org = ? AND thread_id = ?", key)
        ]
        db.execute("DELETE FROM messages WHERE org = ? AND thread_id = ?", key)
        db.execute("DELETE FROM responses WHERE org = ? AND thread_id = ?", key)
        db.execute("DELETE FROM threads WHERE org = ? AND id = ?", key)
        db.execute(
            "INSERT OR REPLACE INTO tombstones (org, id, expires_us) VALUES (?, ?, ?)",
            (*key, tombstone_expires_us(thread, self._limits)),
        )
        return response_ids

    def _live(self, db: sqlite3.Connection, org: str, thread_id: str, at_us: int) -> ThreadRecord | None:
        """The thread if live; an expired one is purged on the spot (inside a write)."""
        thread = self._load(db, org, thread_id)
        if thread is not None and is_expired(thread, at_us):
            self._remove(db, thread)
            return None
        return thread

    def _tombstoned(self, db: sqlite3.Connection, org: str, thread_id: str, at_us: int) -> bool:
        row = db.execute(
            "SELECT 1 FROM tombstones WHERE org = ? AND id = ? AND expires_us > ?", (org, thread_id, at_us)
        ).fetchone()
        return row is not None

    async def create_thread(self, thread: ThreadRecord) -> ThreadRecord:
        def op(db: sqlite3.Connection) -> ThreadRecord:
            if self._live(db, thread.org, thread.id, thread.created_us) is not None:
                raise ThreadAlreadyExists(f"Thread '{thread.id}' already exists.")
            # An explicit create may reuse a deleted or expired id (SPEC §3, rule 1).
            db.execute("DELETE FROM tombstones WHERE org = ? AND id = ?", (thread.org, thread.id))
            db.execute(
                f"INSERT INTO threads ({_THREAD_COLS}) VALUES ({','.join('?' * 13)})", _thread_row(thread)
            )
            return thread

        return await self._engine.write(op)

    async def get_thread(self, org: str, thread_id: str, at_us: int) -> ThreadRecord | None:
        thread = await self._engine.read(lambda db: self._load(db, org, thread_id))
        if thread is not None and is_expired(thread, at_us):
            return await self._engine.write(lambda db: self._live(db, org, thread_id, at_us))
        return thread

    async def turn_view(
        self, org: str, thread_id: str, *, at_us: int, system_limit: int, recent_limit: int
    ) -> TurnView:
        def op(db: sqlite3.Connection) -> TurnView:
            thread = self._load(db, org, thread_id)
            if thread is None:
                return TurnView(thread=None, tombstoned=self._tombstoned(db, org, thread_id, at_us))
            if is_expired(thread, at_us):
                return TurnView(thread=thread)  # purged below, on the writer
            return TurnView(
                thread=thread,
                system=self._system(db, org, thread_id, system_limit),
                recent=self._recent(db, org, thread_id, None, recent_limit),
            )

        view = await self._engine.read(op)
        if view.thread is not None and is_expired(view.thread, at_us):
            await self._engine.write(lambda db: self._live(db, org, thread_id, at_us))
            return TurnView(thread=None, tombstoned=True)
        return view

    async def is_tombstoned(self, org: str, thread_id: str, at_us: int) -> bool:
        return await self._engine.read(lambda db: self._tombstoned(db, org, thread_id, at_us))

    async def list_threads(
        self, org: str, *, visible: bool, state: State | None, limit: int, after: str | None, at_us: int
    ) -> Page:
        def op(db: sqlite3.Connection) -> Page:
            where = ["org = ?", "visible = ?", "expires_us > ?"]
            args: list[Any] = [org, int(visible), at_us]
            if state is not None:
                where.append("state = ?")
                args.append(state)
            if after is not None:
                cursor = db.execute(
                    "SELECT activity_us FROM threads WHERE org = ? AND id = ?", (org, after)
                ).fetchone()
                if cursor is None:
                    raise CursorNotFound(after)
                where.append("(activity_us, id) < (?, ?)")
                args += [cursor[0], after]
            rows = db.execute(
                f"SELECT {_THREAD_COLS} FROM threads WHERE {' AND '.join(where)} "
                "ORDER BY activity_us DESC, id DESC LIMIT ?",
                (*args, limit + 1),
            ).fetchall()
            return Page(items=[_thread_of(r) for r in rows[:limit]], has_more=len(rows) > limit)

        return await self._engine.read(op)

    async def update_thread(self, org: str, thread_id: str, update: ThreadUpdate, at_us: int) -> ThreadRecord:
        def op(db: sqlite3.Connection) -> ThreadRecord:
            thread = self._live(db, org, thread_id, at_us)
            if thread is None:
                raise ThreadNotFound(thread_id)
            changed = update(thread)
            if changed is not thread:
                self._save_thread(db, changed)
            return changed

        return await self._engine.write(op, keep_on_refusal=True)

    def _save_thread(self, db: sqlite3.Connection, t: ThreadRecord) -> None:
        db.execute(
            "UPDATE threads SET state = ?, visible = ?, metadata = ?, message_count = ?, input_tokens = ?, "
            "output_tokens = ?, updated_us = ?, last_message_us = ?, activity_us = ?, expires_us = ? "
            "WHERE org = ? AND id = ?",
            (
                t.state,
                int(t.visible),
                _json_encode(t.metadata),
                t.message_count,
                t.input_tokens,
                t.output_tokens,
                t.updated_us,
                t.last_message_us,
                t.activity_us,
                t.expires_us,
                t.org,
                t.id,
            ),
        )

    async def delete_thread(self, org: str, thread_id: str, at_us: int) -> tuple[str, ...] | None:
        def op(db: sqlite3.Connection) -> tuple[str, ...] | None:
            thread = self._live(db, org, thread_id, at_us)
            if thread is None:
                return None
            return tuple(self._remove(db, thread))

        return await self._engine.write(op)

    # -- messages -------------------------------------------------------------------------------

    async def list_messages(
        self, org: str, thread_id: str, *, limit: int, after: str | None, descending: bool, at_us: int
    ) -> Page | None:
        def op(db: sqlite3.Connection) -> Page | None:
            row = db.execute(
                "SELECT expires_us FROM threads WHERE org = ? AND id = ?", (org, thread_id)
            ).fetchone()
            if row is None or row[0] <= at_us:
                return None
            where, args = "org = ? AND thread_id = ?", [org, thread_id]
            if after is not None:
                cursor = db.execute(
                    "SELECT seq FROM messages WHERE org = ? AND id = ? AND thread_id = ?",
                    (org, after, thread_id),
                ).fetchone()
                if cursor is None:
                    raise CursorNotFound(after)
                where += " AND seq < ?" if descending else " AND seq > ?"
                args.append(cursor[0])
            order = "DESC" if descending else "ASC"
            rows = db.execute(
                f"SELECT {_MSG_COLS} FROM messages WHERE {where} ORDER BY seq {order} LIMIT ?",
                (*args, limit + 1),
            ).fetchall()
            return Page(items=[_message_of(r) for r in rows[:limit]], has_more=len(rows) > limit)

        return await self._engine.read(op)

    def _history(
        self, db: sqlite3.Connection, where: str, args: tuple[Any, ...], index: str | None = None
    ) -> list[HistoryMessage]:
        """Messages newest first, as one JSON array text built by SQLite and decoded by msgspec.

        One step of the statement instead of one per row: the reader thread hands the GIL back
        and forth once, not once per message, and no Python object is made per column.
        """
        source = f"messages INDEXED BY {index}" if index else "messages"
        # Each row becomes `[seq,["role",texts]]` by concatenation: `texts` is stored as a JSON array
        # (written by msgspec) and `role` is one of three plain words, so the text is valid JSON
        # without SQLite parsing each message's JSON again (half the cost of `json_group_array`).
        (doc,) = db.execute(
            "SELECT '[' || coalesce(group_concat('[' || seq || ',[\"' || role || '\",' || "
            "CAST(texts AS TEXT) || ']]', ','), '') || ']' "
            f"FROM (SELECT seq, role, texts FROM {source} WHERE {where} ORDER BY seq DESC LIMIT ?)",
            args,
        ).fetchone()
        found = _history_decode(doc)
        # The aggregate keeps the subquery's order in practice; SQLite does not promise it.
        found.sort(key=_by_seq, reverse=True)
        return found

    def _recent(
        self, db: sqlite3.Connection, org: str, thread_id: str, before_seq: int | None, limit: int
    ) -> list[HistoryMessage]:
        where = "org = ? AND thread_id = ? AND seq < ? AND role != 'system'"
        return self._history(
            db, where, (org, thread_id, before_seq if before_seq is not None else 2**62, limit)
        )

    def _system(self, db: sqlite3.Connection, org: str, thread_id: str, limit: int) -> list[HistoryMessage]:
        # The partial index holds only system messages: without it, a thread with none would be
        # scanned whole.
        return self._history(
            db, "org = ? AND thread_id = ? AND role = 'system'", (org, thread_id, limit), "messages_system"
        )

    async def recent_messages(
        self, org: str, thread_id: str, *, before_seq: int | None, limit: int
    ) -> list[HistoryMessage]:
        return await self._engine.read(lambda db: self._recent(db, org, thread_id, before_seq, limit))

    async def system_messages(self, org: str, thread_id: str, *, limit: int) -> list[HistoryMessage]:
        return await self._engine.read(lambda db: self._system(db, org, thread_id, limit))

    async def append_turn(
        self,
        org: str,
        thread_id: str,
        *,
        create: ThreadRecord | None,
        messages: Sequence[MessageRecord],
        response: ResponseRecord,
        update: ThreadUpdate,
        at_us: int,
    ) -> ThreadRecord:
        def op(db: sqlite3.Connection) -> ThreadRecord:
            thread = self._live(db, org, thread_id, at_us)
            creating = thread is None
            if thread is None:
                if create is None or self._tombstoned(db, org, thread_id, at_us):
                    raise ThreadNotFound(thread_id)
                thread = create
            after = update(thread)  # the rules: raises before anything is written
            if creating:
                db.execute(
                    f"INSERT INTO threads ({_THREAD_COLS}) VALUES ({','.join('?' * 13)})", _thread_row(after)
                )
            else:
                self._save_thread(db, after)
            first = thread.message_count + 1
            # A few rows per statement (one step, not one per row), within SQLite's variable limit.
            rows = [
                (org, thread_id, first + i, m.id, m.role, _json_encode(m.texts), m.response_id, m.created_us)
                for i, m in enumerate(messages)
            ]
            for at in range(0, len(rows), _INSERT_ROWS):
                chunk = rows[at : at + _INSERT_ROWS]
                db.execute(
                    "INSERT INTO messages (org, thread_id, seq, id, role, texts, response_id, created_us) "
                    "VALUES " + ",".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk)),
                    [v for row in chunk for v in row],
                )
            self._insert_response(db, with_turn_inputs(response, first, len(messages) - 1))
            return after

        return await self._engine.write(op, keep_on_refusal=True)

    # -- responses ------------------------------------------------------------------------------

    def _insert_response(self, db: sqlite3.Connection, r: ResponseRecord) -> None:
        db.execute(
            "INSERT INTO responses (org, id, thread_id, expires_us, body) VALUES (?, ?, ?, ?, ?)",
            (r.org, r.id, r.thread_id, r.expires_us, _resp_encode(r)),
        )

    async def save_response(self, response: ResponseRecord) -> None:
        await self._engine.write(lambda db: self._insert_response(db, response))

    async def get_response(self, org: str, response_id: str, at_us: int) -> ResponseRecord | None:
        def op(db: sqlite3.Connection) -> ResponseRecord | None:
            row = db.execute(
                "SELECT body FROM responses WHERE org = ? AND id = ? AND expires_us > ?",
                (org, response_id, at_us),
            ).fetchone()
            if row is None:
                return None
            found = _resp_decode(row[0])
            if found.context_ref is None or found.thread_id is None:
                return found
            # One indexed range read of the thread's messages the response saw.
            ranges = found.context_ref
            where = " OR ".join(["seq BETWEEN ? AND ?"] * len(ranges)) or "0"
            rows = db.execute(
                "SELECT role, texts FROM messages WHERE org = ? AND thread_id = ? "
                f"AND ({where}) ORDER BY seq",
                (org, found.thread_id, *(v for r in ranges for v in r)),
            ).fetchall()
            if len(rows) != sum(b - a + 1 for a, b in ranges):
                return None  # the thread's messages are gone: so is the response
            context = tuple(ChatMessage(role, _texts_decode(texts)) for role, texts in rows)
            return msgspec.structs.replace(found, context=context)

        return await self._engine.read(op)

    # -- retention ------------------------------------------------------------------------------

    async def purge_expired(self, at_us: int) -> PurgeReport:
        threads = responses = 0
        response_ids: list[tuple[str, str]] = []
        # Batches keep each write transaction short, so turns are not held up behind a purge.
        while True:

            def batch(db: sqlite3.Connection) -> int:
                rows = db.execute(
                    f"SELECT {_THREAD_COLS} FROM threads WHERE expires_us <= ? LIMIT ?", (at_us, _PURGE_BATCH)
                ).fetchall()
                for row in rows:
                    response_ids.extend((row[0], rid) for rid in self._remove(db, _thread_of(row)))
                return len(rows)

            n = await self._engine.write(batch)
            threads += n
            if n < _PURGE_BATCH:
                break
        while True:

            def resp_batch(db: sqlite3.Connection) -> int:
                rows = db.execute(
                    "SELECT org, id FROM responses WHERE expires_us <= ? LIMIT ?", (at_us, _PURGE_BATCH)
                ).fetchall()
                db.executemany("DELETE FROM responses WHERE org = ? AND id = ?", rows)
                response_ids.extend((r[0], r[1]) for r in rows)
                return len(rows)

            n = await self._engine.write(resp_batch)
            responses += n
            if n < _PURGE_BATCH:
                break
        tombstones = await self._engine.write(
            lambda db: db.execute("DELETE FROM tombstones WHERE expires_us <= ?", (at_us,)).rowcount
        )
        return PurgeReport(
            threads=threads, responses=responses, tombstones=tombstones, response_ids=tuple(response_ids)
        )
