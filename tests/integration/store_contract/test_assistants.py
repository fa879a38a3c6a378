"""The store contract for assistants (SPEC §11): create and read back, uniqueness per organization,
organization scoping, newest-first lists with offset and a case-insensitive name search, atomic
updates, and deletion that detaches the assistant's threads."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from gateway.core.assistants import apply_assistant_patch
from gateway.core.records import AssistantPatch, AssistantRecord
from gateway.errors import AssistantAlreadyExists, AssistantNotFound
from gateway.store.protocols import Backend, CursorNotFound
from tests.integration.store_contract.helpers import LIMITS, T0, thread, turn


def assistant(org: str = "o1", aid: str = "asst_1", at: int = T0, **kw: object) -> AssistantRecord:
    a = AssistantRecord(org=org, id=aid, name=f"Helper {aid}", created_us=at, updated_us=at)
    return msgspec.structs.replace(a, **kw) if kw else a


async def names(store: Backend, org: str = "o1", *, search: str | None = None) -> list[str]:
    page = await store.assistants.list_assistants(org, limit=50, offset=0, search=search)
    return [a.id for a in page.items]


async def test_create_then_get_round_trips_every_field(store: Backend) -> None:
    a = assistant(
        instructions="Be brief.",
        model="echo",
        description="A test helper",
        metadata={"team": "support", "$where": {"a.b": [1, 2]}},
    )
    assert await store.assistants.create_assistant(a) == a
    assert await store.assistants.get_assistant("o1", a.id) == a
    bare = await store.assistants.create_assistant(assistant(aid="asst_bare"))
    assert await store.assistants.get_assistant("o1", "asst_bare") == bare
    assert bare.instructions is None and bare.model is None and bare.memory == "off"


async def test_an_id_is_unique_within_an_organization_only(store: Backend) -> None:
    first = await store.assistants.create_assistant(assistant(aid="same"))
    with pytest.raises(AssistantAlreadyExists):
        await store.assistants.create_assistant(assistant(aid="same", name="Other"))
    assert await store.assistants.get_assistant("o1", "same") == first
    other = await store.assistants.create_assistant(assistant(org="o2", aid="same", name="Theirs"))
    assert await store.assistants.get_assistant("o2", "same") == other
    assert (await store.assistants.get_assistant("o1", "same")) == first


async def test_another_organizations_assistant_is_invisible(store: Backend) -> None:
    mine = await store.assistants.create_assistant(assistant(aid="asst_mine"))
    assert await store.assistants.get_assistant("o2", mine.id) is None
    assert await names(store, "o2") == []
    with pytest.raises(AssistantNotFound):
        await store.assistants.update_assistant("o2", mine.id, lambda a: a, T0)
    assert await store.assistants.delete_assistant("o2", mine.id, T0) is None
    assert await store.assistants.get_assistant("o1", mine.id) == mine


async def test_list_is_newest_first_with_limit_offset_and_total(store: Backend) -> None:
    for i in range(5):
        await store.assistants.create_assistant(assistant(aid=f"a{i}", at=T0 + i))
    await store.assistants.create_assistant(assistant(org="o2", aid="theirs"))
    first = await store.assistants.list_assistants("o1", limit=2, offset=0, search=None)
    assert [a.id for a in first.items] == ["a4", "a3"] and first.has_more and first.total == 5
    last = await store.assistants.list_assistants("o1", limit=2, offset=4, search=None)
    assert [a.id for a in last.items] == ["a0"] and not last.has_more and last.total == 5
    beyond = await store.assistants.list_assistants("o1", limit=2, offset=9, search=None)
    assert beyond.items == [] and beyond.total == 5


async def test_search_matches_part_of_the_name_in_any_case_and_literally(store: Backend) -> None:
    for aid, name in [
        ("a1", "Support Bot"),
        ("a2", "sales helper"),
        ("a3", "SUPPORT desk"),
        ("a4", "100% (sure)"),
        ("a5", "Straße"),
    ]:
        await store.assistants.create_assistant(assistant(aid=aid, name=name))
    await store.assistants.create_assistant(assistant(org="o2", aid="b1", name="support elsewhere"))
    assert sorted(await names(store, search="support")) == ["a1", "a3"]
    assert await names(store, search="HELP") == ["a2"]
    # Characters that LIKE and regular expressions treat specially are matched as themselves.
    assert await names(store, search="0% (") == ["a4"]
    assert await names(store, search=".*") == []
    assert await names(store, search="_") == []
    assert await names(store, search="STRASSE") == ["a5"]
    page = await store.assistants.list_assistants("o1", limit=1, offset=0, search="support")
    assert page.total == 2 and page.has_more


async def test_update_applies_the_function_atomically(store: Backend) -> None:
    a = await store.assistants.create_assistant(assistant())

    async def add(key: str) -> None:
        change = AssistantPatch(metadata={key: True})
        await store.assistants.update_assistant(
            "o1", a.id, lambda x: apply_assistant_patch(x, change, LIMITS, T0 + 5), T0 + 5
        )

    await asyncio.gather(*(add(f"k{i}") for i in range(8)))
    got = await store.assistants.get_assistant("o1", a.id)
    assert got is not None and set(got.metadata) == {f"k{i}" for i in range(8)}
    assert got.updated_us == T0 + 5 and got.created_us == T0
    renamed = await store.assistants.update_assistant(
        "o1",
        a.id,
        lambda x: apply_assistant_patch(
            x, AssistantPatch(name="New", instructions="", model="echo"), LIMITS, T0 + 9
        ),
        T0 + 9,
    )
    assert (renamed.name, renamed.instructions, renamed.model) == ("New", None, "echo")
    assert await store.assistants.get_assistant("o1", a.id) == renamed


async def test_delete_removes_the_assistant_and_detaches_only_its_threads(store: Backend) -> None:
    await store.assistants.create_assistant(assistant(aid="gone"))
    await store.assistants.create_assistant(assistant(aid="stays"))
    await store.assistants.create_assistant(assistant(org="o2", aid="gone"))
    for tid, aid in [("t1", "gone"), ("t2", "gone"), ("t3", "stays"), ("t4", None)]:
        await store.threads.create_thread(thread(tid=tid, assistant_id=aid))
    # A thread of the same assistant id in another organization is not touched.
    await store.threads.create_thread(thread(org="o2", tid="t1", assistant_id="gone"))
    await turn(store, "o1", "t2", [("user", "x"), ("assistant", "y")], at=T0 + 1)
    assert await store.assistants.delete_assistant("o1", "gone", T0 + 2) == 2
    assert await store.assistants.get_assistant("o1", "gone") is None
    assert await store.assistants.delete_assistant("o1", "gone", T0 + 2) is None
    for tid, aid in [("t1", None), ("t2", None), ("t3", "stays"), ("t4", None)]:
        t = await store.threads.get_thread("o1", tid, T0 + 3)
        assert t is not None and t.assistant_id == aid, tid
    t2 = await store.threads.get_thread("o1", "t2", T0 + 3)
    assert t2 is not None and t2.message_count == 2  # the thread and its messages remain
    theirs = await store.threads.get_thread("o2", "t1", T0 + 3)
    assert theirs is not None and theirs.assistant_id == "gone"
    assert await store.assistants.get_assistant("o2", "gone") is not None
    # A turn after the detach keeps the thread detached.
    after = await turn(store, "o1", "t1", [("user", "x"), ("assistant", "y")], at=T0 + 4)
    assert after.assistant_id is None


async def test_threads_list_by_assistant(store: Backend) -> None:
    for i, aid in enumerate(["a1", "a2", "a1", None, "a1"]):
        await store.threads.create_thread(thread(tid=f"t{i}", at=T0 + i, assistant_id=aid))
    await store.threads.create_thread(thread(org="o2", tid="x", assistant_id="a1"))

    async def listed(aid: str | None, *, limit: int = 10, after: str | None = None) -> list[str]:
        page = await store.threads.list_threads(
            "o1", visible=True, state=None, limit=limit, after=after, at_us=T0 + 9, assistant_id=aid
        )
        return [t.id for t in page.items]

    assert await listed("a1") == ["t4", "t2", "t0"]
    assert await listed("a2") == ["t1"]
    assert await listed("nobody") == []
    assert await listed(None) == ["t4", "t3", "t2", "t1", "t0"]
    assert await listed("a1", limit=1, after="t4") == ["t2"]
    with pytest.raises(CursorNotFound):  # a thread of another assistant is not an item of this list
        await listed("a1", after="t1")
    page = await store.threads.list_threads(
        "o1", visible=True, state=None, limit=1, after=None, at_us=T0 + 9, assistant_id="a1", with_total=True
    )
    assert page.total == 3 and page.has_more
