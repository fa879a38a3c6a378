"""Threads, messages and turns in SQLite (see `gateway.store.sqlite` for how writes are ordered).

Writers take the database lock up front (`BEGIN IMMEDIATE`), which serializes concurrent turns on
one thread across processes: sequence numbers, the message count and the limit are read and written
under that lock, and a raise inside the transaction rolls everything back.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Callable
from typing import Any

import msgspec

from gateway.core.records import (
    HistoryMessage,
    MessageRecord,
    Page,
    State,
    ThreadFilter,
    ThreadRecord,
    by_reference,
    with_turn_inputs,
)
from gateway.core.rules import Limits, check_accepts_edit, is_expired
from gateway.errors import MessageNotFound, ThreadNotFound
from gateway.store.codec import MESSAGE_FIELDS, encode_metadata, encode_texts, message_of
from gateway.store.lifecycle import (
    Standing,
    check_create,
    in_thread_list,
    is_gone,
    page,
    reads_descending,
    turn_base,
)
from gateway.store.protocols import CursorNotFound, MessageEdit, ThreadUpdate, TurnView, TurnWrite
from gateway.store.sqlite.engine import SqliteEngine
from gateway.store.sqlite.idempotency import finish
from gateway.store.sqlite.jobs import insert_job
from gateway.store.sqlite.schema import (
    MSG_COLS,
    THREAD_COLS,
    count_edit,
    insert_response,
    insert_thread,
    load_thread,
    remove_thread,
    row_thread,
    save_thread,
    standing_of,
)
from gateway.store.sqlite.windows import RECENT, Windows

_DELETE_BATCH = 500
_INSERT_ROWS = 256  # 8 variables a row: 2,048 a statement, far below SQLite's limit
_history_decode = msgspec.json.Decoder(list[HistoryMessage]).decode
_by_seq = operator.attrgetter("seq")


class SqliteThreads:
    """`ThreadStore` over the embedded database."""

    def __init__(self, engine: SqliteEngine, limits: Limits, windows: Windows | None = None) -> None:
        self._engine = engine
        self._limits = limits
        self._windows = windows or Windows(0)

    def _live(self, db: sqlite3.Connection, org: str, thread_id: str, at_us: int) -> ThreadRecord | None:
        """The thread if live; an expired one is purged on the spot (inside a write)."""
        s, thread = standing_of(db, org, thread_id, at_us)
        if s is Standing.EXPIRED and thread is not None:
            remove_thread(db, thread, self._limits)
        return thread if s is Standing.LIVE else None

    async def create_thread(self, thread: ThreadRecord) -> ThreadRecord:
        def op(db: sqlite3.Connection) -> ThreadRecord:
            s, found = standing_of(db, thread.org, thread.id, thread.created_us)
            check_create(s, thread.id)
            if found is not None:  # expired: its content goes before the id is used again
                remove_thread(db, found, self._limits)
            db.execute("DELETE FROM tombstones WHERE org = ? AND id = ?", (thread.org, thread.id))
            insert_thread(db, thread)
            return thread

        return await self._engine.write(op)

    async def get_thread(self, org: str, thread_id: str, at_us: int) -> ThreadRecord | None:
        s, thread = await self._engine.read(lambda db: standing_of(db, org, thread_id, at_us))
        if s is Standing.EXPIRED:
            return await self._engine.write(lambda db: self._live(db, org, thread_id, at_us))
        return thread if s is Standing.LIVE else None

    async def turn_view(
        self, org: str, thread_id: str, *, at_us: int, system_limit: int, recent_limit: int
    ) -> TurnView:
        def op(db: sqlite3.Connection) -> tuple[Standing, TurnView]:
            s, thread = standing_of(db, org, thread_id, at_us)
            if s is not Standing.LIVE:
                return s, TurnView(thread=None, tombstoned=is_gone(s))
            return s, TurnView(
                thread=thread,
                system=self._system(db, org, thread_id, system_limit),
                recent=self._windows.recent(db, org, thread_id, recent_limit, self._history),
            )

        s, view = await self._read_view(org, thread_id, op)
        if s is Standing.EXPIRED:  # purged on the writer
            await self._engine.write(lambda db: self._live(db, org, thread_id, at_us))
        return view

    async def _read_view(
        self, org: str, thread_id: str, op: Callable[[sqlite3.Connection], tuple[Standing, TurnView]]
    ) -> tuple[Standing, TurnView]:
        """On the event loop when this process keeps the thread's window (the read is then a few
        rows on pages it just used), else on a reader thread."""
        if self._windows.holds(org, thread_id):
            return await self._engine.point_read(op)
        return await self._engine.read(op)

    async def is_tombstoned(self, org: str, thread_id: str, at_us: int) -> bool:
        s, _ = await self._engine.read(lambda db: standing_of(db, org, thread_id, at_us))
        return is_gone(s)

    async def list_threads(
        self,
        org: str,
        *,
        visible: bool,
        state: State | None,
        limit: int,
        after: str | None,
        at_us: int,
        pinned: bool | None = None,
        descending: bool = True,
        before: str | None = None,
        with_total: bool = False,
        assistant_id: str | None = None,
    ) -> Page[ThreadRecord]:
        f = ThreadFilter(
            visible=visible, state=state, pinned=pinned, descending=descending, assistant_id=assistant_id
        )

        def op(db: sqlite3.Connection) -> Page[ThreadRecord]:
            where = ["org = ?", "visible = ?", "expires_us > ?"]
            args: list[Any] = [org, int(visible), at_us]
            if state is not None:
                where.append("state = ?")
                args.append(state)
            if pinned is not None:
                where.append("pinned_us IS NOT NULL" if pinned else "pinned_us IS NULL")
            if assistant_id is not None:
                where.append("assistant_id = ?")
                args.append(assistant_id)
            total = None
            if with_total:
                (total,) = db.execute(
                    f"SELECT count(*) FROM threads WHERE {' AND '.join(where)}", args
                ).fetchone()
            down = reads_descending(f, before)
            for name in (after, before):
                if name is None:
                    continue
                cursor = load_thread(db, org, name)
                if cursor is None or not in_thread_list(cursor, f, at_us):
                    raise CursorNotFound(name)
                where.append(f"(activity_us, id) {'<' if down else '>'} (?, ?)")
                args += [cursor.activity_us, name]
            order = "DESC" if down else "ASC"
            rows = db.execute(
                f"SELECT {THREAD_COLS} FROM threads WHERE {' AND '.join(where)} "
                f"ORDER BY activity_us {order}, id {order} LIMIT ?",
                (*args, limit + 1),
            ).fetchall()
            return page([row_thread(r) for r in rows], limit, backwards=before is not None, total=total)

        return await self._engine.read(op)

    async def update_thread(self, org: str, thread_id: str, update: ThreadUpdate, at_us: int) -> ThreadRecord:
        def op(db: sqlite3.Connection) -> ThreadRecord:
            thread = self._live(db, org, thread_id, at_us)
            if thread is None:
                raise ThreadNotFound(thread_id)
            changed = update(thread)
            if changed is not thread:
                save_thread(db, changed)
            return changed

        return await self._engine.write(op, keep_on_refusal=True)

    async def delete_thread(self, org: str, thread_id: str, at_us: int) -> tuple[str, ...] | None:
        def op(db: sqlite3.Connection) -> tuple[str, ...] | None:
            thread = self._live(db, org, thread_id, at_us)
            if thread is None:
                return None
            return tuple(remove_thread(db, thread, self._limits))

        return await self._engine.write(op)

    # -- messages -------------------------------------------------------------------------------

    async def list_messages(
        self,
        org: str,
        thread_id: str,
        *,
        limit: int,
        after: str | None,
        descending: bool,
        at_us: int,
        before: str | None = None,
    ) -> Page[MessageRecord] | None:
        def op(db: sqlite3.Connection) -> Page[MessageRecord] | None:
            s, _ = standing_of(db, org, thread_id, at_us)
            if s is not Standing.LIVE:
                return None
            where, args = "org = ? AND thread_id = ?", [org, thread_id]
            down = descending != (before is not None)  # a page before a cursor is read backwards
            for name in (after, before):
                if name is None:
                    continue
                cursor = db.execute(
                    "SELECT seq FROM messages WHERE org = ? AND id = ? AND thread_id = ?",
                    (org, name, thread_id),
                ).fetchone()
                if cursor is None:
                    raise CursorNotFound(name)
                where += " AND seq < ?" if down else " AND seq > ?"
                args.append(cursor[0])
            order = "DESC" if down else "ASC"
            rows = db.execute(
                f"SELECT {MSG_COLS} FROM messages WHERE {where} ORDER BY seq {order} LIMIT ?",
                (*args, limit + 1),
            ).fetchall()
            found = [message_of(dict(zip(MESSAGE_FIELDS, r, strict=True))) for r in rows]
            return page(found, limit, backwards=before is not None)

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
        return self._history(
            db, RECENT, (org, thread_id, before_seq if before_seq is not None else 2**62, limit)
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

    async def append_turn(self, turn: TurnWrite) -> ThreadRecord:
        org, thread_id, messages = turn.org, turn.thread_id, turn.messages

        def op(db: sqlite3.Connection) -> ThreadRecord:
            s, found = standing_of(db, org, thread_id, turn.at_us)
            if s is Standing.EXPIRED and found is not None:
                remove_thread(db, found, self._limits)  # kept: the refusal below does not undo it
            thread, creating = turn_base(s, found, turn.create, thread_id)
            after = turn.update(thread)  # the rules: raises before anything is written
            # Sequence numbers are never reused, even after a message was deleted: a response's
            # `context_ref` names its messages by them.
            n = len(messages)
            if creating:
                insert_thread(db, after, next_seq=n)
                first = 1
            else:
                first = save_thread(db, after, adding=n) - n + 1
            # A few rows per statement (one step, not one per row), within SQLite's variable limit.
            rows = [
                (org, thread_id, first + i, m.id, m.role, encode_texts(m.texts), m.response_id, m.created_us)
                for i, m in enumerate(messages)
            ]
            for at in range(0, len(rows), _INSERT_ROWS):
                chunk = rows[at : at + _INSERT_ROWS]
                db.execute(
                    "INSERT INTO messages (org, thread_id, seq, id, role, texts, response_id, created_us) "
                    "VALUES " + ",".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk)),
                    [v for row in chunk for v in row],
                )
            insert_response(db, with_turn_inputs(by_reference(turn.response), first, len(messages) - 1))
            if turn.idempotency is not None:
                finish(db, turn.idempotency)
            for job in turn.jobs:
                insert_job(db, job)
            return after

        return await self._engine.write(op, keep_on_refusal=True)

    # -- the organization's threads at once, and single messages ----------------------------------

    async def delete_all_threads(self, org: str, at_us: int) -> tuple[int, tuple[str, ...]]:
        deleted = 0
        response_ids: list[str] = []
        while True:
            # Batches keep each write short, so turns are not held up behind a large organization.
            def batch(db: sqlite3.Connection) -> int:
                rows = db.execute(
                    f"SELECT {THREAD_COLS} FROM threads WHERE org = ? LIMIT ?", (org, _DELETE_BATCH)
                ).fetchall()
                nonlocal deleted
                for row in rows:
                    thread = row_thread(row)
                    deleted += not is_expired(thread, at_us)
                    response_ids.extend(remove_thread(db, thread, self._limits))
                return len(rows)

            if await self._engine.write(batch) < _DELETE_BATCH:
                return deleted, tuple(response_ids)

    def _message(self, db: sqlite3.Connection, org: str, thread_id: str, message_id: str) -> MessageRecord:
        row = db.execute(
            f"SELECT {MSG_COLS} FROM messages WHERE org = ? AND thread_id = ? AND id = ?",
            (org, thread_id, message_id),
        ).fetchone()
        if row is None:
            raise MessageNotFound(message_id)
        return message_of(dict(zip(MESSAGE_FIELDS, row, strict=True)))

    def _editable(self, db: sqlite3.Connection, org: str, thread_id: str, at_us: int) -> ThreadRecord:
        thread = self._live(db, org, thread_id, at_us)
        if thread is None:
            raise ThreadNotFound(thread_id)
        check_accepts_edit(thread)
        return thread

    async def update_message(
        self, org: str, thread_id: str, message_id: str, edit: MessageEdit, at_us: int
    ) -> MessageRecord:
        def op(db: sqlite3.Connection) -> MessageRecord:
            thread = self._editable(db, org, thread_id, at_us)
            changed = edit(self._message(db, org, thread_id, message_id))
            db.execute(
                "UPDATE messages SET texts = ?, metadata = ? WHERE org = ? AND thread_id = ? AND id = ?",
                (encode_texts(changed.texts), encode_metadata(changed.metadata), org, thread_id, message_id),
            )
            save_thread(db, msgspec.structs.replace(thread, updated_us=at_us, edited_us=at_us))
            count_edit(db, org, thread_id)
            return changed

        return await self._engine.write(op, keep_on_refusal=True)

    async def delete_message(self, org: str, thread_id: str, message_id: str, at_us: int) -> None:
        def op(db: sqlite3.Connection) -> None:
            thread = self._editable(db, org, thread_id, at_us)
            self._message(db, org, thread_id, message_id)
            db.execute(
                "DELETE FROM messages WHERE org = ? AND thread_id = ? AND id = ?",
                (org, thread_id, message_id),
            )
            after = msgspec.structs.replace(
                thread, message_count=thread.message_count - 1, updated_us=at_us, edited_us=at_us
            )
            save_thread(db, after)
            count_edit(db, org, thread_id)

        await self._engine.write(op, keep_on_refusal=True)
