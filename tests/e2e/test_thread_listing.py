"""GET /v1/threads over HTTP (SPEC §4, §5): limits, newest-activity order, the `after` cursor, and
the `state` and `visible_in_ui` filters, scoped to the caller's organization."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, err, ok
from tests.e2e.threads_helpers import THREAD_FIELDS, create, list_page, listed_ids, patch, set_state

# -- GET /v1/threads ------------------------------------------------------------------------------


async def test_list_empty_organization(a: Api) -> None:
    page = await list_page(a)
    assert page == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
        "limit": 20,
    }


async def test_list_default_limit_is_20(a: Api) -> None:
    for _ in range(23):
        await create(a)
    page = await list_page(a)
    assert len(page["data"]) == 20
    assert page["has_more"] is True
    assert all(set(t) == THREAD_FIELDS for t in page["data"])


async def test_list_limit_out_of_bounds_is_validation_error(a: Api) -> None:
    await create(a)
    for limit in ["0", "101", "-1", "abc", "1.5"]:
        err(await a.get("/v1/threads", params={"limit": limit}), 422, "VALIDATION_ERROR")


async def test_list_limit_bounds_1_and_100_are_accepted(a: Api) -> None:
    for _ in range(3):
        await create(a)
    one = await list_page(a, limit=1)
    assert len(one["data"]) == 1 and one["has_more"] is True
    hundred = await list_page(a, limit=100)
    assert len(hundred["data"]) == 3 and hundred["has_more"] is False


async def test_list_newest_activity_first_and_a_turn_moves_thread_to_top(a: Api) -> None:
    ids = [(await create(a, id=f"order_{i}"))["id"] for i in range(4)]
    assert await listed_ids(a) == ids[::-1]
    ok(await a.say("wake up", thread=ids[0]))
    assert await listed_ids(a) == [ids[0], ids[3], ids[2], ids[1]]
    ok(await a.say("me too", thread=ids[2]))
    assert await listed_ids(a) == [ids[2], ids[0], ids[3], ids[1]]
    # A brand-new thread is newer activity than every older turn.
    newest = (await create(a, id="order_new"))["id"]
    assert (await list_page(a, limit=1))["first_id"] == newest


async def test_list_metadata_change_is_not_activity(a: Api) -> None:
    ids = [(await create(a, id=f"meta_{i}"))["id"] for i in range(3)]
    ok(await patch(a, ids[0], metadata={"touched": True}))
    assert await listed_ids(a) == ids[::-1]


async def test_list_after_cursor_walks_every_thread_once(a: Api) -> None:
    made = [(await create(a))["id"] for _ in range(45)]
    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 7}
        if after is not None:
            params["after"] = after
        page = await list_page(a, **params)
        pages += 1
        seen += [t["id"] for t in page["data"]]
        if not page["has_more"]:
            break
        assert len(page["data"]) == 7
        after = page["last_id"]
        assert pages < 20
    assert pages == 7  # 6 full pages and one of 3
    assert len(seen) == len(set(seen)) == 45
    assert seen == made[::-1]


async def test_list_has_more_false_when_last_page_is_exactly_full(a: Api) -> None:
    for _ in range(6):
        await create(a)
    first = await list_page(a, limit=3)
    assert first["has_more"] is True
    second = await list_page(a, limit=3, after=first["last_id"])
    assert len(second["data"]) == 3
    assert second["has_more"] is False
    assert set(t["id"] for t in first["data"]).isdisjoint(t["id"] for t in second["data"])


async def test_list_unknown_cursor_is_validation_error(a: Api) -> None:
    await create(a)
    err(await a.get("/v1/threads", params={"after": "thread_doesnotexist"}), 422, "VALIDATION_ERROR")


async def test_list_visible_in_ui_false_lists_only_hidden(a: Api) -> None:
    shown = [(await create(a))["id"] for _ in range(3)]
    hidden = [(await create(a, visible_in_ui=False))["id"] for _ in range(2)]
    hidden.append(ok(await a.say("secret", store=False))["thread_id"])
    assert await listed_ids(a) == shown[::-1]
    assert await listed_ids(a, visible_in_ui="true") == shown[::-1]
    assert await listed_ids(a, visible_in_ui="false") == hidden[::-1]
    for t in (await list_page(a, visible_in_ui="false"))["data"]:
        assert t["visible_in_ui"] is False


async def test_list_state_filter(a: Api) -> None:
    opened = (await create(a, id="s_open"))["id"]
    locked = (await create(a, id="s_locked"))["id"]
    archived = (await create(a, id="s_archived"))["id"]
    locked_then_archived = (await create(a, id="s_locked_archived"))["id"]
    await set_state(a, locked, "locked")
    await set_state(a, archived, "archived")
    await set_state(a, locked_then_archived, "locked")
    await set_state(a, locked_then_archived, "archived")
    assert await listed_ids(a, state="open") == [opened]
    assert await listed_ids(a, state="locked") == [locked]
    assert sorted(await listed_ids(a, state="archived")) == sorted([archived, locked_then_archived])
    assert len(await listed_ids(a)) == 4
    err(await a.get("/v1/threads", params={"state": "closed"}), 422, "VALIDATION_ERROR")


async def test_list_state_and_visibility_filters_combine(a: Api) -> None:
    hidden_locked = (await create(a, visible_in_ui=False))["id"]
    await create(a, visible_in_ui=False)
    shown_locked = (await create(a))["id"]
    await set_state(a, hidden_locked, "locked")
    await set_state(a, shown_locked, "locked")
    assert await listed_ids(a, state="locked", visible_in_ui="false") == [hidden_locked]
    assert await listed_ids(a, state="locked") == [shown_locked]


async def test_list_shows_only_own_organization(a: Api, b: Api) -> None:
    mine = (await create(a))["id"]
    theirs = (await create(b))["id"]
    assert await listed_ids(a) == [mine]
    assert await listed_ids(b) == [theirs]
