"""Responses in SQLite: one row each, the record as msgpack; a thread's responses by reference."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from gateway.core.records import ResponseRecord
from gateway.store.codec import decode_response, decode_texts
from gateway.store.jobs import NewJob
from gateway.store.lifecycle import with_context
from gateway.store.protocols import IdemDone
from gateway.store.sqlite.engine import SqliteEngine
from gateway.store.sqlite.idempotency import finish
from gateway.store.sqlite.jobs import insert_job
from gateway.store.sqlite.schema import insert_response
from providers.base import ChatMessage


class SqliteResponses:
    """`ResponseStore` over the embedded database."""

    def __init__(self, engine: SqliteEngine) -> None:
        self._engine = engine

    async def save_response(
        self, response: ResponseRecord, idempotency: IdemDone | None = None, jobs: Sequence[NewJob] = ()
    ) -> None:
        def op(db: sqlite3.Connection) -> None:
            # One transaction: the jobs (the outbox) commit or roll back with the response.
            insert_response(db, response)
            for job in jobs:
                insert_job(db, job)
            if idempotency is not None:
                finish(db, idempotency)

        await self._engine.write(op)

    async def get_response(self, org: str, response_id: str, at_us: int) -> ResponseRecord | None:
        def row(db: sqlite3.Connection) -> ResponseRecord | None:
            found = db.execute(
                "SELECT body FROM responses WHERE org = ? AND id = ? AND expires_us > ?",
                (org, response_id, at_us),
            ).fetchone()
            return None if found is None else decode_response(found[0])

        # One row by its key, on the loop (a chained turn reads it); the messages a response of a
        # thread saw, a range of rows, on a reader thread.
        found = await self._engine.point_read(row)
        if found is None or found.context_ref is None or found.thread_id is None:
            return found
        saved: ResponseRecord = found
        thread_id, ranges = found.thread_id, found.context_ref

        def context(db: sqlite3.Connection) -> ResponseRecord | None:
            # One indexed range read of the thread's messages the response saw.
            where = " OR ".join(["seq BETWEEN ? AND ?"] * len(ranges)) or "0"
            rows = db.execute(
                "SELECT role, texts FROM messages WHERE org = ? AND thread_id = ? "
                f"AND ({where}) ORDER BY seq",
                (org, thread_id, *(v for r in ranges for v in r)),
            ).fetchall()
            return with_context(saved, [ChatMessage(role, decode_texts(texts)) for role, texts in rows])

        return await self._engine.read(context)

    async def delete_response(self, org: str, response_id: str, at_us: int) -> bool:
        def op(db: sqlite3.Connection) -> bool:
            row = db.execute(
                "DELETE FROM responses WHERE org = ? AND id = ? AND expires_us > ? RETURNING thread_id",
                (org, response_id, at_us),
            ).fetchone()
            if row is not None and row[0] is not None:
                # Its thread's cached responses are checked against this (gateway.store.cached).
                db.execute(
                    "UPDATE threads SET edited_us = MAX(COALESCE(edited_us, 0), ?) WHERE org = ? AND id = ?",
                    (at_us, org, row[0]),
                )
            return row is not None

        return await self._engine.write(op)
