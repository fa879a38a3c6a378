"""Backboard's lists (`skip`, `limit`, bare arrays) over the core's pages.

The door shows only objects whose id is a UUID (`ids.py`), so `skip` and `limit` count those: the
list is read page by page in its order, the others passed over. The walk is bounded: it reads at
most `SCAN_MAX` items (enough for Backboard's largest `skip` plus `limit` when every id is a UUID),
so an organization with many objects made elsewhere gets a shorter list, never an unbounded read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

SCAN_MAX = 20_000


async def walk[T, C](
    fetch: Callable[[C | None], Awaitable[tuple[list[T], C | None]]],
    keep: Callable[[T], bool],
    *,
    skip: int,
    limit: int,
) -> list[T]:
    """Items `skip` to `skip + limit` of those `keep` takes. `fetch(cursor)` gives one page and the
    cursor of the next (None: the list ends); the first call gets None."""
    out: list[T] = []
    kept = scanned = 0
    cursor: C | None = None
    while True:
        items, cursor = await fetch(cursor)
        for item in items:
            scanned += 1
            if not keep(item):
                continue
            kept += 1
            if kept > skip:
                out.append(item)
                if len(out) == limit:
                    return out
        if cursor is None or scanned >= SCAN_MAX:
            return out
