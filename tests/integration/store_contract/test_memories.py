"""The store contract for memories (SPEC §12): round trips, organization and assistant scoping,
user filters, newest-first pages with totals, updates and deletes that move the scope's version,
the scope's vectors, and deletion of an assistant taking its memories with it."""

from __future__ import annotations

import uuid

import msgspec

from gateway.core.memory_records import MemoryChange, MemoryRecord
from gateway.core.records import AssistantRecord
from gateway.core.vectors import from_bytes, to_bytes
from gateway.store.protocols import Backend
from tests.integration.store_contract.helpers import T0, S


def memory(
    text: str, *, org: str = "o1", aid: str = "asst_1", user: str | None = None, at: int = T0
) -> MemoryRecord:
    return MemoryRecord(
        org=org,
        assistant_id=aid,
        id=str(uuid.uuid4()),
        user=user,
        text=text,
        embedding=to_bytes([1.0, 0.0, 0.5]),
        metadata={"source": "test", "n": [1, 2]},
        created_us=at,
        updated_us=at,
    )


async def test_a_memory_round_trips_and_is_scoped_by_organization_and_assistant(store: Backend) -> None:
    m = await store.memories.add_memory(memory("I'm allergic to peanuts.", user="ann"))
    assert await store.memories.get_memory("o1", "asst_1", m.id) == m
    assert await store.memories.get_memory("o2", "asst_1", m.id) is None
    assert await store.memories.get_memory("o1", "asst_2", m.id) is None
    assert list(from_bytes(m.embedding)) == [1.0, 0.0, 0.5]
    assert (await store.memories.list_memories("o2", "asst_1", user=None, limit=10, offset=0)).total == 0
    assert not await store.memories.delete_memory("o2", "asst_1", m.id)
    change = MemoryChange(text="x", embedding=m.embedding, at_us=T0)
    assert await store.memories.update_memory("o2", "asst_1", m.id, change) is None


async def test_lists_are_newest_first_paged_and_filtered_by_user(store: Backend) -> None:
    mems = [
        await store.memories.add_memory(memory(f"fact {i}", user=u, at=T0 + i * S))
        for i, u in enumerate(["ann", None, "bob", "ann", None])
    ]
    first = await store.memories.list_memories("o1", "asst_1", user=None, limit=2, offset=0)
    assert [m.text for m in first.items] == ["fact 4", "fact 3"] and first.has_more and first.total == 5
    rest = await store.memories.list_memories("o1", "asst_1", user=None, limit=10, offset=2)
    assert [m.text for m in rest.items] == ["fact 2", "fact 1", "fact 0"] and not rest.has_more
    anns = await store.memories.list_memories("o1", "asst_1", user="ann", limit=10, offset=0)
    assert [m.text for m in anns.items] == ["fact 4", "fact 3", "fact 1", "fact 0"]
    assert anns.total == 4
    assert len(mems) == 5


async def test_every_write_moves_the_scope_version_and_the_vectors_follow(store: Backend) -> None:
    assert await store.memories.scope_version("o1", "asst_1") == 0
    a = await store.memories.add_memory(memory("a", user="ann"))
    b = await store.memories.add_memory(memory("b"))
    v2 = await store.memories.scope_version("o1", "asst_1")
    change = MemoryChange(text="b2", embedding=to_bytes([0.0, 1.0, 0.0]), metadata={"k": "v"}, at_us=T0 + S)
    updated = await store.memories.update_memory("o1", "asst_1", b.id, change)
    assert updated is not None and updated.text == "b2" and updated.metadata == {"k": "v"}
    assert updated.updated_us == T0 + S and updated.created_us == T0
    assert await store.memories.get_memory("o1", "asst_1", b.id) == updated
    v3 = await store.memories.scope_version("o1", "asst_1")
    assert v3 > v2 > 0
    vectors = await store.memories.scope_vectors("o1", "asst_1")
    assert vectors.version == v3
    by_id = dict(zip(vectors.ids, zip(vectors.users, vectors.embeddings, strict=True), strict=True))
    assert by_id == {a.id: ("ann", a.embedding), b.id: (None, to_bytes([0.0, 1.0, 0.0]))}
    assert await store.memories.delete_memory("o1", "asst_1", a.id)
    assert not await store.memories.delete_memory("o1", "asst_1", a.id)
    assert await store.memories.scope_version("o1", "asst_1") > v3
    assert (await store.memories.scope_vectors("o1", "asst_1")).ids == [b.id]
    assert (await store.memories.scope_vectors("o2", "asst_1")).ids == []


async def test_deleting_an_assistant_deletes_its_memories_only(store: Backend) -> None:
    for org in ("o1", "o2"):
        await store.assistants.create_assistant(
            AssistantRecord(org=org, id="asst_1", name="A", created_us=T0, updated_us=T0)
        )
    mine = await store.memories.add_memory(memory("mine"))
    other_assistant = await store.memories.add_memory(memory("other", aid="asst_2"))
    other_org = await store.memories.add_memory(memory("theirs", org="o2"))
    before = await store.memories.scope_version("o1", "asst_1")
    assert await store.assistants.delete_assistant("o1", "asst_1", T0) == 0
    assert await store.memories.get_memory("o1", "asst_1", mine.id) is None
    assert await store.memories.scope_version("o1", "asst_1") > before
    assert await store.memories.get_memory("o1", "asst_2", other_assistant.id) == other_assistant
    assert await store.memories.get_memory("o2", "asst_1", other_org.id) == other_org
    assert msgspec.structs.asdict(other_org)["text"] == "theirs"
