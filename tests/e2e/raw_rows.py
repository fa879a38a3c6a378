"""What the store holds, read beside the gateway (not through it) on either backend of the e2e run:
the SQLite file of the embedded default, or the MongoDB database the settings name."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from gateway.settings import Settings


class RawRows:
    def __init__(self, settings: Settings) -> None:
        self._mongo: MongoClient[dict[str, Any]] | None = None
        if settings.mongodb_uri:
            self._mongo = MongoClient(settings.mongodb_uri, serverSelectionTimeoutMS=5000)
            self._db = self._mongo[settings.mongodb_database]
        self._path = Path(settings.data_dir) / "gateway.sqlite3"

    def count(self, table: str, column: str, value: str) -> int:
        """Rows of `table` (threads, messages, responses) whose `column` is `value`; of threads,
        the live ones only (MongoDB keeps a deleted thread's document as its tombstone)."""
        if self._mongo is not None:
            query: dict[str, Any] = {column: value}
            if table == "threads":
                query["tomb"] = False
            return int(self._db[table].count_documents(query))
        db = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True)
        try:
            return int(db.execute(f"SELECT count(*) FROM {table} WHERE {column} = ?", (value,)).fetchone()[0])
        finally:
            db.close()

    def message_count(self, thread_id: str) -> int:
        """The live thread's stored message count; -1 when there is none."""
        if self._mongo is not None:
            doc = self._db["threads"].find_one({"id": thread_id, "tomb": False}, {"message_count": 1})
            return -1 if doc is None else int(doc["message_count"])
        db = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT message_count FROM threads WHERE id = ?", (thread_id,)).fetchone()
            return -1 if row is None else int(row[0])
        finally:
            db.close()

    def close(self) -> None:
        if self._mongo is not None:
            self._mongo.close()
