"""Idempotency keys in SQLite: one row per (organization, key); the answer kept as msgpack."""

from __future__ import annotations

import sqlite3

from gateway.store.codec import decode_response, encode_response
from gateway.store.lifecycle import IdemRecord, idem_standing, next_token
from gateway.store.protocols import IdemClaim, IdemClaimed, IdemDone
from gateway.store.sqlite.engine import SqliteEngine


def _record(db: sqlite3.Connection, org: str, key: str) -> IdemRecord | None:
    row = db.execute(
        "SELECT fingerprint, token, held_until_us, answer, expires_us FROM idempotency "
        "WHERE org = ? AND key = ?",
        (org, key),
    ).fetchone()
    if row is None:
        return None
    return IdemRecord(
        fingerprint=row[0],
        token=row[1],
        held_until_us=row[2],
        answer=None if row[3] is None else decode_response(row[3]),
        expires_us=row[4],
    )


def finish(db: sqlite3.Connection, done: IdemDone) -> None:
    """Keep the key's answer, inside the write of the turn that made it."""
    db.execute(
        "UPDATE idempotency SET answer = ?, expires_us = ? WHERE org = ? AND key = ? AND token = ?",
        (encode_response(done.response), done.expires_us, done.claim.org, done.claim.key, done.claim.token),
    )


class SqliteIdempotency:
    """`IdempotencyStore` over the embedded database."""

    def __init__(self, engine: SqliteEngine) -> None:
        self._engine = engine

    async def claim(self, org: str, key: str, fingerprint: str, *, at_us: int, hold_us: int) -> IdemClaim:
        def op(db: sqlite3.Connection) -> IdemClaim:
            record = _record(db, org, key)
            standing = idem_standing(record, fingerprint, at_us)
            if standing is not None:
                return standing
            token = next_token(record)
            db.execute(
                "INSERT OR REPLACE INTO idempotency (org, key, fingerprint, token, held_until_us, "
                "answer, expires_us) VALUES (?, ?, ?, ?, ?, NULL, ?)",
                (org, key, fingerprint, token, at_us + hold_us, at_us + hold_us),
            )
            return IdemClaimed(org=org, key=key, token=token)

        return await self._engine.write(op)

    async def release(self, claim: IdemClaimed) -> None:
        await self._engine.write(
            lambda db: db.execute(
                "DELETE FROM idempotency WHERE org = ? AND key = ? AND token = ? AND answer IS NULL",
                (claim.org, claim.key, claim.token),
            )
        )
