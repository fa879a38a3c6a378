"""`client.threads.list_threads` of aitronos-sdk 5.0.0 (SPEC §4.2, §10): the list body the SDK parses
(`limit` in it), `order`, `after` and `before` cursors, `include_total`, and the `is_pinned`,
`assistant_id` and `visible_in_ui` filters."""

from __future__ import annotations

from aitronos import UnprocessableEntityError

from tests.conftest import ORG_A
from tests.e2e.sdk.helpers import Client, call, raises, say


async def threads(sdk: Client, n: int) -> list[str]:
    """`n` threads, one turn each, oldest activity first."""
    return [(await say(sdk, f"turn {i}"))["thread_id"] for i in range(n)]


async def test_the_list_is_newest_activity_first_and_order_asc_reverses_it(sdk: Client) -> None:
    made = await threads(sdk, 3)
    newest_first = await call(sdk.threads.list_threads())
    assert [t.id for t in newest_first.data] == made[::-1]
    assert newest_first.object == "list" and newest_first.limit == 20 and newest_first.has_more is False
    assert (newest_first.first_id, newest_first.last_id) == (made[2], made[0])
    assert [t.id for t in (await call(sdk.threads.list_threads(order="desc"))).data] == made[::-1]
    assert [t.id for t in (await call(sdk.threads.list_threads(order="asc"))).data] == made
    # A new turn on the oldest thread makes it the newest.
    await say(sdk, "back again", thread_id=made[0])
    assert [t.id for t in (await call(sdk.threads.list_threads())).data] == [made[0], made[2], made[1]]


async def test_after_and_before_walk_the_pages(sdk: Client) -> None:
    made = await threads(sdk, 5)
    newest_first = made[::-1]
    first = await call(sdk.threads.list_threads(limit=2))
    assert [t.id for t in first.data] == newest_first[:2] and first.has_more is True and first.limit == 2
    second = await call(sdk.threads.list_threads(limit=2, after=first.last_id))
    assert [t.id for t in second.data] == newest_first[2:4] and second.has_more is True
    third = await call(sdk.threads.list_threads(limit=2, after=second.last_id))
    assert [t.id for t in third.data] == newest_first[4:] and third.has_more is False
    back = await call(sdk.threads.list_threads(limit=2, before=second.first_id))
    assert [t.id for t in back.data] == newest_first[:2]
    ascending = await call(sdk.threads.list_threads(limit=2, order="asc", after=made[1]))
    assert [t.id for t in ascending.data] == made[2:4]


async def test_include_total_counts_every_match_beyond_the_page(sdk: Client) -> None:
    await threads(sdk, 3)
    await say(sdk, "hidden", store=False)
    counted = await call(sdk.threads.list_threads(limit=1, include_total=True))
    assert len(counted.data) == 1 and counted.total == 3
    assert (await call(sdk.threads.list_threads(limit=1))).total is None
    hidden = await call(sdk.threads.list_threads(visible_in_ui=False, include_total=True))
    assert hidden.total == 1 and len(hidden.data) == 1


async def test_is_pinned_filters_pinned_and_unpinned_threads(sdk: Client) -> None:
    made = await threads(sdk, 3)
    await call(sdk.threads.pin_thread(made[1]))
    pinned = await call(sdk.threads.list_threads(is_pinned=True))
    assert [t.id for t in pinned.data] == [made[1]] and pinned.data[0].is_pinned is True
    unpinned = await call(sdk.threads.list_threads(is_pinned=False))
    assert [t.id for t in unpinned.data] == [made[2], made[0]]
    assert {t.id for t in (await call(sdk.threads.list_threads())).data} == set(made)


async def test_assistant_id_filters_the_threads_of_one_assistant(sdk: Client) -> None:
    one = (await call(sdk.assistants.create_assistant(name="one", organization_id=ORG_A))).id
    two = (await call(sdk.assistants.create_assistant(name="two", organization_id=ORG_A))).id
    by_turn = (await say(sdk, "under one", assistant_id=one))["thread_id"]
    made = (await call(sdk.threads.create_thread(organization_id=ORG_A, assistant_id=one))).id
    other = (await say(sdk, "under two", assistant_id=two))["thread_id"]
    await threads(sdk, 2)  # without an assistant
    ones = await call(sdk.threads.list_threads(assistant_id=one, include_total=True))
    assert {t.id for t in ones.data} == {by_turn, made} and ones.total == 2
    assert all(t.assistant_id == one for t in ones.data)
    assert [t.id for t in (await call(sdk.threads.list_threads(assistant_id=two))).data] == [other]
    assert len((await call(sdk.threads.list_threads())).data) == 5
    # Once the assistant is deleted its threads are detached: its list is empty, the threads remain.
    await call(sdk.assistants.delete_assistant(one))
    assert (await call(sdk.threads.list_threads(assistant_id=one))).data == []
    assert (await call(sdk.threads.get_thread(by_turn))).assistant_id is None


async def test_organization_id_of_the_key_lists_and_another_is_refused(sdk: Client) -> None:
    made = await threads(sdk, 1)
    assert [t.id for t in (await call(sdk.threads.list_threads(organization_id=ORG_A))).data] == made
    await raises(
        lambda: sdk.threads.list_threads(organization_id="org_someone_else"),
        403,
        "ORGANIZATION_ACCESS_DENIED",
    )


async def test_an_unknown_query_parameter_is_refused_with_422(sdk: Client) -> None:
    await raises(
        lambda: sdk.threads.list_threads(request_options={"additional_query_parameters": {"colour": "blue"}}),
        422,
        kind=UnprocessableEntityError,
    )
