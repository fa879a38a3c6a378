"""A data directory written by an earlier version opens with this one: the added columns are made,
and its threads go on where they were (the next sequence number follows their messages)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gateway.store.sqlite.store import SqliteStore
from tests.integration.store_contract.helpers import LIMITS, T0, turn

# The tables as the first version made them (no titles, pins, edit times, next_seq, message metadata).
OLD_SCHEMA = """
CREATE TABLE threads (
    org TEXT NOT NULL, id TEXT NOT NULL, state TEXT NOT NULL, visible INTEGER NOT NULL,
    metadata BLOB NOT NULL, message_count INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
    created_us INTEGER NOT NULL, updated_us INTEGER NOT NULL, last_message_us INTEGER,
    activity_us INTEGER NOT NULL, expires_us INTEGER NOT NULL,
    PRIMARY KEY (org, id)
) WITHOUT ROWID;
CREATE TABLE messages (
    org TEXT NOT NULL, thread_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,
    role TEXT NOT NULL, texts BLOB NOT NULL, response_id TEXT, created_us INTEGER NOT NULL,
    PRIMARY KEY (org, thread_id, seq)
) WITHOUT ROWID;
"""


async def test_a_file_of_the_first_version_is_migrated_and_its_threads_go_on(tmp_path: Path) -> None:
    path = tmp_path / "gateway.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.execute(
        "INSERT INTO threads VALUES ('o1', 'old', 'open', 1, X'7B7D', 2, 3, 4, ?, ?, ?, ?, ?)",
        (T0, T0, T0, T0, T0 + LIMITS.idle_us),
    )
    for seq, role, text in ((1, "user", "hello"), (2, "assistant", "hi")):
        db.execute(
            "INSERT INTO messages VALUES ('o1', 'old', ?, ?, ?, ?, 'resp_old', ?)",
            (seq, f"msg_{seq}", role, f'["{text}"]', T0),
        )
    db.commit()
    db.close()

    store = SqliteStore(str(path), LIMITS)
    await store.open()
    try:
        thread = await store.threads.get_thread("o1", "old", T0 + 1)
        assert thread is not None and thread.message_count == 2 and thread.title is None
        await turn(store, "o1", "old", [("user", "again"), ("assistant", "ok")], at=T0 + 2)
        page = await store.threads.list_messages(
            "o1", "old", limit=10, after=None, descending=False, at_us=T0 + 3
        )
        assert page is not None
        assert [(m.seq, m.texts[0]) for m in page.items] == [(1, "hello"), (2, "hi"), (3, "again"), (4, "ok")]
        assert page.items[0].metadata == {}
    finally:
        await store.close()
    # Opening it again migrates nothing twice.
    store = SqliteStore(str(path), LIMITS)
    await store.open()
    await store.close()
