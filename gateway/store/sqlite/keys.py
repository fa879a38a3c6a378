"""API keys of the embedded store (`KeyStore`, SPEC §15): only each key's SHA-256 digest is kept."""

from __future__ import annotations

import sqlite3

from gateway.store.protocols import KeyRecord
from gateway.store.sqlite.engine import SqliteEngine

KEYS_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT NOT NULL PRIMARY KEY, hash BLOB NOT NULL UNIQUE, org TEXT NOT NULL, name TEXT,
    created_us INTEGER NOT NULL, last_used_us INTEGER, revoked_us INTEGER, updated_us INTEGER NOT NULL
);
"""

_COLS = "id, org, name, created_us, last_used_us, revoked_us"
# A change's `updated_us`: its time, or just past the newest change when a clock was set back, so
# that the marker (count, newest change) moves with every change. SQLite runs one writer at a time,
# so no two changes read the same newest one.
_STAMP = "MAX(?, COALESCE((SELECT MAX(updated_us) FROM api_keys), 0) + 1)"


def _record(row: tuple[object, ...]) -> KeyRecord:
    kid, org, name, created, used, revoked = row
    return KeyRecord(
        id=str(kid),
        org=str(org),
        name=None if name is None else str(name),
        created_us=int(created),  # type: ignore[call-overload]
        last_used_us=None if used is None else int(used),  # type: ignore[call-overload]
        revoked_us=None if revoked is None else int(revoked),  # type: ignore[call-overload]
    )


class SqliteKeys:
    def __init__(self, engine: SqliteEngine) -> None:
        self._engine = engine

    async def create_key(self, record: KeyRecord, digest: bytes) -> None:
        await self._engine.write(
            lambda db: db.execute(
                "INSERT INTO api_keys (id, hash, org, name, created_us, updated_us) "
                f"VALUES (?, ?, ?, ?, ?, {_STAMP})",
                (record.id, digest, record.org, record.name, record.created_us, record.created_us),
            )
        )

    async def list_keys(self, org: str | None) -> list[KeyRecord]:
        def op(db: sqlite3.Connection) -> list[KeyRecord]:
            if org is None:
                rows = db.execute(f"SELECT {_COLS} FROM api_keys ORDER BY created_us, id")
            else:
                rows = db.execute(
                    f"SELECT {_COLS} FROM api_keys WHERE org = ? ORDER BY created_us, id", (org,)
                )
            return [_record(r) for r in rows]

        return await self._engine.read(op)

    async def revoke_key(self, key_id: str, at_us: int) -> bool:
        def op(db: sqlite3.Connection) -> bool:
            cur = db.execute(
                f"UPDATE api_keys SET revoked_us = ?, updated_us = {_STAMP} "
                "WHERE id = ? AND revoked_us IS NULL",
                (at_us, at_us, key_id),
            )
            return cur.rowcount > 0

        return await self._engine.write(op)

    async def keys_marker(self) -> tuple[int, int]:
        def op(db: sqlite3.Connection) -> tuple[int, int]:
            count, latest = db.execute("SELECT COUNT(*), MAX(updated_us) FROM api_keys").fetchone()
            return int(count), int(latest or 0)

        return await self._engine.read(op)

    async def live_keys(self) -> dict[bytes, tuple[str, str]]:
        def op(db: sqlite3.Connection) -> dict[bytes, tuple[str, str]]:
            rows = db.execute("SELECT hash, id, org FROM api_keys WHERE revoked_us IS NULL")
            return {bytes(h): (str(i), str(o)) for h, i, o in rows}

        return await self._engine.read(op)

    async def find_key(self, digest: bytes) -> tuple[str, str] | None:
        def op(db: sqlite3.Connection) -> tuple[str, str] | None:
            row = db.execute(
                "SELECT id, org FROM api_keys WHERE hash = ? AND revoked_us IS NULL", (digest,)
            ).fetchone()
            return None if row is None else (str(row[0]), str(row[1]))

        return await self._engine.read(op)

    async def touch_keys(self, key_ids: list[str], at_us: int) -> None:
        await self._engine.write(
            lambda db: db.executemany(
                "UPDATE api_keys SET last_used_us = ? WHERE id = ?", [(at_us, k) for k in key_ids]
            )
        )
