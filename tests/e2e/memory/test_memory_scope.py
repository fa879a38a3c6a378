"""The memory scope of a thread's turns and of chains (SPEC §12): a thread made for a user confines
its later turns that name none to that user's memories and the assistant-wide ones, a turn naming
another user on it is refused, and a `previousResponseId` chain with an assistant reads and writes
memory as a thread turn does (its user: the request's, else the previous response's)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.memory.conftest import settled, system_texts
from tests.fakes.upstream import FakeUpstream

QUESTION = "What food allergies do I have?"


async def assistant(http: httpx.AsyncClient, memory: str) -> str:
    r = await http.post("/v1/assistants", json={"name": "Helper", "memory": memory, "model": "openai/gpt-4o"})
    assert r.status_code == 201, r.text
    aid: str = r.json()["id"]
    return aid


async def remember(http: httpx.AsyncClient, aid: str, text: str, user: str | None) -> str:
    body: dict[str, Any] = {"memory": text} if user is None else {"memory": text, "user": user}
    r = await http.post(f"/v1/assistants/{aid}/memories", json=body)
    assert r.status_code == 201, r.text
    mid: str = r.json()["id"]
    return mid


async def turn(http: httpx.AsyncClient, text: str, **fields: Any) -> dict[str, Any]:
    r = await http.post("/v1/model/response", json={"inputs": [{"role": "user", "content": text}], **fields})
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def recalled(answer: dict[str, Any]) -> set[str]:
    return {m["id"] for m in answer.get("retrieved_memories") or []}


async def test_a_thread_made_for_ann_reads_only_anns_and_assistant_wide_memories(
    http: httpx.AsyncClient, fake: FakeUpstream
) -> None:
    aid = await assistant(http, "readonly")
    ann = await remember(http, aid, "I'm allergic to peanuts.", "ann")
    bob = await remember(http, aid, "I'm allergic to shellfish.", "bob")
    wide = await remember(http, aid, "Food allergies are handled by the clinic on floor 2.", None)

    # Made by POST /v1/threads for ann: its turns without `user` are ann's.
    r = await http.post("/v1/threads", json={"id": "ann_support", "assistant_id": aid, "user": "ann"})
    assert r.status_code == 201, r.text
    assert r.json()["user"] == "ann" and r.json()["assistant_id"] == aid
    for _ in range(2):
        answer = await turn(http, QUESTION, thread="ann_support")
        assert recalled(answer) == {ann, wide}
        texts = system_texts(fake.calls[-1].body["messages"])
        assert any("peanuts" in t for t in texts) and not any("shellfish" in t for t in texts)
    assert (await http.get("/v1/threads/ann_support")).json()["user"] == "ann"

    # Made by a turn naming ann: the same for its later turns that name nobody.
    first = await turn(http, QUESTION, assistant_id=aid, user="ann", thread="ann_chat")
    assert recalled(first) == {ann, wide}
    later = await turn(http, QUESTION, thread="ann_chat")
    assert recalled(later) == {ann, wide} and bob not in recalled(later)
    assert not any("shellfish" in t for t in system_texts(fake.calls[-1].body["messages"]))
    assert (await http.get("/v1/threads/ann_chat")).json()["user"] == "ann"

    # A thread made for nobody: its turns see the assistant-wide memories, and a named user's own.
    await turn(http, QUESTION, assistant_id=aid, thread="shared")
    assert (await http.get("/v1/threads/shared")).json()["user"] is None
    assert recalled(await turn(http, QUESTION, thread="shared")) == {wide}
    assert recalled(await turn(http, QUESTION, thread="shared", user="bob")) == {bob, wide}


async def test_a_turn_naming_another_user_than_its_threads_is_refused_and_saves_nothing(
    http: httpx.AsyncClient, fake: FakeUpstream
) -> None:
    aid = await assistant(http, "auto")
    await remember(http, aid, "I'm allergic to peanuts.", "ann")
    await turn(http, "Hello", assistant_id=aid, user="ann", thread="t_private")
    calls = len(fake.calls)
    r = await http.post(
        "/v1/model/response",
        json={"thread": "t_private", "user": "bob", "inputs": [{"role": "user", "content": QUESTION}]},
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "CONFLICTING_PARAMETERS"
    assert "ann" not in r.json()["error"]["message"]  # the thread's user is not told
    assert len(fake.calls) == calls  # the model was not called
    thread = (await http.get("/v1/threads/t_private")).json()
    assert thread["message_count"] == 2 and thread["user"] == "ann"
    # Repeating the thread's own user is fine.
    assert recalled(await turn(http, QUESTION, thread="t_private", user="ann"))

    # The Backboard door: a thread made by a turn for ann refuses bob's turn (400 with `detail`).
    made = await http.post("/api/threads/messages", json={"content": "Hello", "user": "ann"})
    assert made.status_code == 200, made.text
    tid = made.json()["thread_id"]
    refused = await http.post(
        "/api/threads/messages", json={"content": QUESTION, "thread_id": tid, "user": "bob"}
    )
    assert refused.status_code == 400 and "detail" in refused.json(), refused.text
    assert (await http.get(f"/v1/threads/{tid}")).json()["user"] == "ann"


async def test_a_chained_turn_with_an_assistant_recalls_and_writes_memory(
    http: httpx.AsyncClient, fake: FakeUpstream
) -> None:
    aid = await assistant(http, "auto")
    ann = await remember(http, aid, "I'm allergic to peanuts.", "ann")
    bob = await remember(http, aid, "I'm allergic to shellfish.", "bob")
    first = await turn(http, "Hello there.", assistant_id=aid, user="ann", memory="readonly")

    # The chain names no user: the previous response's (ann) is its scope.
    chained = await turn(
        http,
        "I also can't eat kiwi. What food allergies do I have?",
        previousResponseId=first["id"],
        assistant_id=aid,
    )
    assert chained["thread_id"] is None and chained["previous_response_id"] == first["id"]
    assert recalled(chained) == {ann}
    sent = fake.calls[-1].body["messages"]
    assert sent[0]["role"] == "system" and "peanuts" in sent[0]["content"]
    assert not any("shellfish" in t for t in system_texts(sent))
    op_id = chained["memory_operation_id"]
    assert op_id
    op = await settled(http, f"/v1/memory-operations/{op_id}")
    assert op["status"] == "COMPLETED" and len(op["memory_ids"]) == 1, op
    listed = (await http.get(f"/v1/assistants/{aid}/memories", params={"user": "ann"})).json()["data"]
    written = {m["id"]: m for m in listed}[op["memory_ids"][0]]
    assert written["user"] == "ann" and written["memory"].startswith("I also can't eat kiwi.")

    # The next link of the chain still is ann's: it recalls what the chain wrote.
    again = await turn(http, "Which fruit must I avoid?", previousResponseId=chained["id"], assistant_id=aid)
    assert op["memory_ids"][0] in recalled(again) and bob not in recalled(again)
    # A chain naming bob reads bob's memories, not ann's.
    other = await turn(
        http, QUESTION, previousResponseId=chained["id"], assistant_id=aid, user="bob", memory="readonly"
    )
    assert bob in recalled(other) and ann not in recalled(other) and other["memory_operation_id"] is None
    # A chain without an assistant has no memory.
    plain = await turn(http, QUESTION, model="openai/gpt-4o", previousResponseId=chained["id"])
    assert plain.get("retrieved_memories") is None and plain.get("memory_operation_id") is None
