"""Memory through `backboard-sdk` (SPEC §12, §13): the seed example of Backboard's documents with
`memory="Auto"`, the user scope that keeps two users' facts apart, `Readonly`, the operation status."""

from __future__ import annotations

from typing import Any

import httpx
from backboard import BackboardClient
from backboard.models import ChatMessagesResponse

from tests.e2e.memory.conftest import settled, system_texts
from tests.fakes.behaviours import Reply
from tests.fakes.upstream import FakeUpstream

OPS = "/api/assistants/memories/operations"


def last(answer: ChatMessagesResponse) -> dict[str, Any]:
    """The answer's message (the SDK's response keeps the flat message under `messages`)."""
    return answer.messages[-1]


async def test_a_fact_said_in_one_thread_reaches_a_new_thread_of_the_same_assistant(
    bb: BackboardClient, http: httpx.AsyncClient, fake: FakeUpstream
) -> None:
    assistant = await bb.create_assistant(name="Chef", system_prompt="You are a helpful chef.")
    first = await bb.create_thread(assistant.assistant_id)
    said = await bb.add_message(first.thread_id, content="I'm allergic to peanuts.", memory="Auto")
    assert last(said)["memory_operation_id"]
    op = await bb.get_memory_operation_status(last(said)["memory_operation_id"])
    assert op.status in ("PENDING", "IN_PROGRESS", "COMPLETED")
    done = await settled(http, f"{OPS}/{last(said)['memory_operation_id']}")
    assert done["status"] == "COMPLETED" and len(done["memory_ids"]) == 1
    status = await bb.get_memory_operation_status(last(said)["memory_operation_id"])
    assert status.status == "COMPLETED" and status.memory_ids == done["memory_ids"]

    second = await bb.create_thread(assistant.assistant_id)
    fake.push(Reply(chunks=("You mentioned you're allergic to peanuts.",)))
    answer = await bb.add_message(
        second.thread_id, content="Any dietary restrictions you remember?", memory="Auto"
    )
    sent = fake.calls[-1].body["messages"]
    # The instructions first, then the memories as one system message, then the new question only.
    assert sent[0] == {"role": "system", "content": "You are a helpful chef."}
    assert sent[1]["role"] == "system" and "I'm allergic to peanuts." in sent[1]["content"]
    assert sent[2:] == [{"role": "user", "content": "Any dietary restrictions you remember?"}]
    assert answer.content == "You mentioned you're allergic to peanuts."
    [found] = last(answer)["retrieved_memories"] or []
    assert found["id"] == done["memory_ids"][0] and found["memory"] == "I'm allergic to peanuts."
    assert 0.25 <= found["score"] <= 1
    # Without a memory model each user message is kept as said: the question too, once written.
    asked = await settled(http, f"{OPS}/{last(answer)['memory_operation_id']}")
    listed = await bb.get_memories(assistant.assistant_id)
    assert listed.total_count == 2 and asked["memory_ids"] == [listed.memories[0].id]
    assert [m.content for m in listed.memories] == [
        "Any dietary restrictions you remember?",
        "I'm allergic to peanuts.",
    ]


async def test_two_users_of_one_assistant_never_see_each_others_facts(
    bb: BackboardClient, http: httpx.AsyncClient, fake: FakeUpstream
) -> None:
    assistant = await bb.create_assistant(name="Shared")
    aid = str(assistant.assistant_id)

    async def turn(user: str, content: str) -> dict[str, object]:
        r = await http.post(
            "/api/threads/messages",
            json={"content": content, "assistant_id": aid, "user": user, "memory": "Auto"},
        )
        assert r.status_code == 200, r.text
        answer: dict[str, object] = r.json()
        return answer

    ann = await turn("ann", "I'm allergic to peanuts.")
    bob = await turn("bob", "My favourite colour is green.")
    for said in (ann, bob):
        assert (await settled(http, f"{OPS}/{said['memory_operation_id']}"))["status"] == "COMPLETED"
    asked = await turn("bob", "Do I have any food allergies?")
    assert not any("peanuts" in t for t in system_texts(fake.calls[-1].body["messages"]))
    assert all("peanuts" not in str(m["memory"]) for m in asked["retrieved_memories"] or [])  # type: ignore[union-attr]
    asked = await turn("ann", "Do I have any food allergies?")
    assert any("peanuts" in t for t in system_texts(fake.calls[-1].body["messages"]))
    assert not any("green" in t for t in system_texts(fake.calls[-1].body["messages"]))
    # A search for one user sees only that user's (and assistant-wide) memories.
    found = (
        await http.post(f"/api/assistants/{aid}/memories/search", json={"query": "peanuts", "user": "bob"})
    ).json()
    assert all("peanuts" not in m["content"] for m in found["memories"])


async def test_readonly_reads_memories_and_writes_none(
    bb: BackboardClient, http: httpx.AsyncClient, fake: FakeUpstream
) -> None:
    assistant = await bb.create_assistant(name="Reader")
    added = await bb.add_memory(assistant.assistant_id, content="The user lives in Lisbon.")
    thread = await bb.create_thread(assistant.assistant_id)
    answer = await bb.add_message(thread.thread_id, content="Where do I live?", memory="Readonly")
    assert last(answer)["memory_operation_id"] is None
    assert [m["id"] for m in last(answer)["retrieved_memories"] or []] == [added["memory_id"]]
    assert any("Lisbon" in t for t in system_texts(fake.calls[-1].body["messages"]))
    off = await bb.add_message(thread.thread_id, content="Where do I live?", memory="off")
    assert last(off)["retrieved_memories"] is None and last(off)["memory_operation_id"] is None
    assert not any("Lisbon" in t for t in system_texts(fake.calls[-1].body["messages"]))
    assert (await bb.get_memories(assistant.assistant_id)).total_count == 1


async def test_a_streamed_turn_ends_with_its_memories_and_operation(
    bb: BackboardClient, http: httpx.AsyncClient, fake: FakeUpstream
) -> None:
    assistant = await bb.create_assistant(name="Streamer")
    added = await bb.add_memory(assistant.assistant_id, content="The user's dog is called Rex.")
    thread = await bb.create_thread(assistant.assistant_id)
    events = [
        e
        async for e in await bb.add_message(
            thread.thread_id, content="What is my dog's name?", memory="Auto", stream=True
        )
    ]
    [complete] = [e for e in events if e["type"] == "message_complete"]
    assert [m["id"] for m in complete["retrieved_memories"]] == [added["memory_id"]]
    assert any("Rex" in t for t in system_texts(fake.calls[-1].body["messages"]))
    done = await settled(http, f"{OPS}/{complete['memory_operation_id']}")
    assert done["status"] == "COMPLETED" and len(done["memory_ids"]) == 1
