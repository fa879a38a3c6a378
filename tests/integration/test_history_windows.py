"""What a worker keeps of its threads' newest history (gateway.store.sqlite.windows): never served
stale, whatever another process appends, edits or deletes, and actually served (a turn reads only
what was added since).

Two `SqliteStore`s on one file stand for two worker processes; a third with nothing kept is the
truth every view is compared with."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from gateway.store.protocols import TurnView
from gateway.store.sqlite.store import SqliteStore
from tests.integration.store_contract.helpers import ROOMY, T0, thread, turn

ORG = "o1"


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[SqliteStore, SqliteStore, SqliteStore, Path]]:
    path = tmp_path / "gateway.sqlite3"
    a = SqliteStore(str(path), ROOMY)
    b = SqliteStore(str(path), ROOMY)
    truth = SqliteStore(str(path), ROOMY, history_cache_bytes=0)
    for s in (a, b, truth):
        await s.open()
    yield a, b, truth, path
    for s in (a, b, truth):
        await s.close()


async def view(store: SqliteStore, tid: str, limit: int, at: int = T0 + 1) -> list[tuple[int, str, str]]:
    v: TurnView = await store.threads.turn_view(ORG, tid, at_us=at, system_limit=8, recent_limit=limit)
    return [(m.seq, m.role, m.texts[0]) for m in v.recent]


async def first_id(store: SqliteStore, tid: str, seq: int) -> str:
    page = await store.threads.list_messages(ORG, tid, limit=1000, after=None, descending=False, at_us=T0 + 1)
    assert page is not None
    return next(m.id for m in page.items if m.seq == seq)


def rewrite_behind_the_store(path: Path, tid: str, seq: int, text: str) -> None:
    """Change a message's text in the file without counting an edit: only a kept window can then
    still show the old text."""
    db = sqlite3.connect(path)
    with db:
        db.execute(
            "UPDATE messages SET texts = ? WHERE org = ? AND thread_id = ? AND seq = ?",
            (msgspec.json.encode([text]), ORG, tid, seq),
        )
    db.close()


async def test_a_kept_window_is_served_and_only_what_was_added_is_read(stores) -> None:  # type: ignore[no-untyped-def]
    a, b, _, path = stores
    await turn(a, ORG, "t", [("user", "u1"), ("assistant", "a1")], create=thread(tid="t"), limits=ROOMY)
    assert await view(a, "t", 10) == [(2, "assistant", "a1"), (1, "user", "u1")]
    rewrite_behind_the_store(path, "t", 1, "changed behind")
    await turn(b, ORG, "t", [("user", "u2"), ("assistant", "a2")], limits=ROOMY)  # another process
    # The old text is still what `a` shows: it read only messages 3 and 4 (from the other process).
    assert await view(a, "t", 10) == [
        (4, "assistant", "a2"),
        (3, "user", "u2"),
        (2, "assistant", "a1"),
        (1, "user", "u1"),
    ]
    # `b` kept nothing of the thread yet: it reads the file.
    assert (await view(b, "t", 10))[-1] == (1, "user", "changed behind")


async def test_an_edit_or_a_deletion_by_another_process_is_seen(stores) -> None:  # type: ignore[no-untyped-def]
    a, b, _, _ = stores
    await turn(a, ORG, "e", [("user", "u1"), ("assistant", "a1")], create=thread(tid="e"), limits=ROOMY)
    await turn(a, ORG, "e", [("user", "u2"), ("assistant", "a2")], limits=ROOMY)
    assert [m[2] for m in await view(a, "e", 10)] == ["a2", "u2", "a1", "u1"]
    u1 = await first_id(b, "e", 1)
    await b.threads.update_message(ORG, "e", u1, lambda m: msgspec.structs.replace(m, texts=("u1!",)), T0 + 2)
    assert [m[2] for m in await view(a, "e", 10, T0 + 3)] == ["a2", "u2", "a1", "u1!"]
    a2 = await first_id(b, "e", 4)
    await b.threads.delete_message(ORG, "e", a2, T0 + 4)
    assert [m[0] for m in await view(a, "e", 10, T0 + 5)] == [3, 2, 1]


async def test_a_thread_made_again_under_the_same_id_shows_none_of_the_old_one(stores) -> None:  # type: ignore[no-untyped-def]
    a, b, _, _ = stores
    await turn(
        a, ORG, "r", [("user", "old"), ("assistant", "old answer")], create=thread(tid="r"), limits=ROOMY
    )
    assert len(await view(a, "r", 10)) == 2
    # Expired (idle past its limit), then made again, on the other process.
    later = T0 + ROOMY.idle_us + 10
    await b.threads.create_thread(thread(tid="r", at=later))
    await turn(b, ORG, "r", [("user", "new"), ("assistant", "new answer")], at=later, limits=ROOMY)
    assert [m[2] for m in await view(a, "r", 10, later + 1)] == ["new answer", "new"]


async def test_a_small_window_then_a_larger_read(stores) -> None:  # type: ignore[no-untyped-def]
    a, _, truth, _ = stores
    await turn(a, ORG, "w", [("user", f"m{i}") for i in range(1, 41)], create=thread(tid="w"), limits=ROOMY)
    assert await view(a, "w", 5) == await view(truth, "w", 5)
    # More than was kept: read again, not a short answer.
    assert await view(a, "w", 30) == await view(truth, "w", 30)
    assert len(await view(a, "w", 100)) == 40


async def test_random_turns_edits_and_deletions_across_processes_match_the_file(stores) -> None:  # type: ignore[no-untyped-def]
    a, b, truth, _ = stores
    rng = random.Random(7)
    tids = [f"p{i}" for i in range(3)]
    for tid in tids:
        await turn(a, ORG, tid, [("user", "start")], create=thread(tid=tid), limits=ROOMY)
    at = T0 + 10
    for step in range(300):
        tid, store = rng.choice(tids), rng.choice((a, b))
        at += 1
        action = rng.random()
        if action < 0.45:
            await turn(
                store, ORG, tid, [("user", f"u{step}"), ("assistant", f"a{step}")], at=at, limits=ROOMY
            )
        elif action < 0.6:
            page = await truth.threads.list_messages(
                ORG, tid, limit=1000, after=None, descending=False, at_us=at
            )
            assert page is not None
            target = rng.choice(page.items)
            if rng.random() < 0.5:
                edit = lambda m, s=step: msgspec.structs.replace(m, texts=(f"edited {s}",))  # noqa: E731
                await store.threads.update_message(ORG, tid, target.id, edit, at)
            elif page.items[1:]:
                await store.threads.delete_message(ORG, tid, target.id, at)
        else:
            limit = rng.choice((1, 2, 3, 8, 20, 200))
            assert await view(store, tid, limit, at) == await view(truth, tid, limit, at), (step, tid, limit)


async def test_nothing_is_kept_when_the_cache_is_off(tmp_path: Path) -> None:
    path = tmp_path / "gateway.sqlite3"
    s = SqliteStore(str(path), ROOMY, history_cache_bytes=0)
    await s.open()
    try:
        await turn(s, ORG, "n", [("user", "u1")], create=thread(tid="n"), limits=ROOMY)
        assert await view(s, "n", 10) == [(1, "user", "u1")]
        rewrite_behind_the_store(path, "n", 1, "changed")
        assert await view(s, "n", 10) == [(1, "user", "changed")]
    finally:
        await s.close()


async def test_a_kept_thread_is_read_on_the_event_loop_and_a_lock_sends_it_to_the_readers(stores) -> None:  # type: ignore[no-untyped-def]
    a, _, truth, _ = stores
    await turn(a, ORG, "h", [("user", "u1"), ("assistant", "a1")], create=thread(tid="h"), limits=ROOMY)
    pooled = 0
    engine = a.threads._engine  # what it reads through is the point here
    read = engine.read

    async def counted(fn):  # type: ignore[no-untyped-def]
        nonlocal pooled
        pooled += 1
        return await read(fn)

    engine.read = counted  # type: ignore[method-assign]
    assert await view(a, "h", 10) == await view(truth, "h", 10)
    assert pooled == 1  # the first view of the thread: on a reader thread
    await turn(a, ORG, "h", [("user", "u2"), ("assistant", "a2")], limits=ROOMY)
    assert await view(a, "h", 10) == await view(truth, "h", 10)
    assert pooled == 1  # kept: read on the loop
    # When the loop's read would have to wait for a lock (it never waits), the readers read.

    def locked(fn):  # type: ignore[no-untyped-def]
        raise sqlite3.OperationalError("database is locked")

    engine.read_here = locked  # type: ignore[method-assign]
    await turn(a, ORG, "h", [("user", "u3")], limits=ROOMY)
    assert (await view(a, "h", 10))[0] == (5, "user", "u3")
    assert pooled == 2
