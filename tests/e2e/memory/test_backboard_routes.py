"""Backboard's memory routes through `backboard-sdk` 1.5.19 (SPEC §13): add, get, update, delete,
list (all, and paged), search with scores, stats; another organization's assistant, memory or
operation is 404 with `detail`; ids that are not UUIDs are absent; malformed bodies are 422."""

from __future__ import annotations

import uuid

import httpx
import pytest
from backboard import BackboardClient
from backboard.exceptions import BackboardAPIError

from tests.conftest import KEY_B


async def test_the_sdks_memory_methods_round_trip(bb: BackboardClient) -> None:
    assistant = await bb.create_assistant(name="Notes")
    aid = assistant.assistant_id
    added = await bb.add_memory(aid, content="I'm allergic to peanuts.", metadata={"source": "intake"})
    assert added["success"] is True and uuid.UUID(added["memory_id"])
    for fact in ("I drive a red Volvo.", "My wife's birthday is on March 3rd."):
        await bb.add_memory(aid, content=fact)
    got = await bb.get_memory(aid, added["memory_id"])
    assert (got.content, got.metadata) == ("I'm allergic to peanuts.", {"source": "intake"})
    updated = await bb.update_memory(
        aid, added["memory_id"], content="I'm allergic to peanuts and shellfish."
    )
    assert updated.content == "I'm allergic to peanuts and shellfish." and updated.metadata == {
        "source": "intake"
    }
    everything = await bb.get_memories(aid)
    assert everything.total_count == 3 and len(everything.memories) == 3
    page = await bb.get_memories(aid, page=2, page_size=2)
    assert (page.page, page.page_size, page.total_pages, page.total_count) == (2, 2, 2, 3)
    assert [m.id for m in page.memories] == [added["memory_id"]]  # the oldest, on the last page
    found = await bb.search_memories(aid, "Which foods should I avoid?", limit=2)
    assert found["memories"][0]["id"] == added["memory_id"] and found["total_count"] == 2
    assert found["memories"][0]["score"] >= found["memories"][1]["score"]
    stats = await bb.get_memory_stats(aid)
    assert stats.total_memories == 3 and stats.last_updated
    deleted = await bb.delete_memory(aid, added["memory_id"])
    assert deleted["success"] is True
    with pytest.raises(BackboardAPIError) as caught:
        await bb.get_memory(aid, added["memory_id"])
    assert caught.value.status_code == 404
    assert (await bb.get_memory_stats(aid)).total_memories == 2


async def test_another_organization_gets_404_on_every_memory_route(bb: BackboardClient, gateway: str) -> None:
    assistant = await bb.create_assistant(name="Private")
    aid = str(assistant.assistant_id)
    mid = (await bb.add_memory(aid, content="A secret."))["memory_id"]
    said = await bb.send_message("Remember me.", assistant_id=aid, memory="Auto")
    op = said.messages[-1]["memory_operation_id"]
    async with BackboardClient(api_key=KEY_B, base_url=f"{gateway}/api") as other:
        calls = [
            other.get_memories(aid),
            other.add_memory(aid, content="x"),
            other.get_memory(aid, mid),
            other.update_memory(aid, mid, content="x"),
            other.delete_memory(aid, mid),
            other.search_memories(aid, "secret"),
            other.get_memory_stats(aid),
            other.get_memory_operation_status(op),
        ]
        for call in calls:
            with pytest.raises(BackboardAPIError) as caught:
                await call
            assert caught.value.status_code == 404
    assert (await bb.get_memory(aid, mid)).content == "A secret."


async def test_bad_ids_and_bodies_are_404_and_422_never_500(
    http: httpx.AsyncClient, bb: BackboardClient
) -> None:
    aid = str((await bb.create_assistant(name="Strict")).assistant_id)
    base = f"/api/assistants/{aid}/memories"
    for path in (
        "/api/assistants/asst_1/memories",
        f"{base}/mem_1",
        "/api/assistants/memories/operations/job_1",
    ):
        r = await http.get(path)
        assert r.status_code == 404 and "detail" in r.json(), (path, r.text)
    for body in ({}, {"content": ""}, {"content": 1}, {"content": "x", "other": 1}):
        r = await http.post(base, json=body)
        assert r.status_code == 422 and "detail" in r.json(), (body, r.text)
    for body in ({}, {"query": "x", "limit": 0}, {"query": "x", "limit": 51}):
        r = await http.post(f"{base}/search", json=body)
        assert r.status_code == 422, (body, r.text)
    assert (await http.get(base, params={"page": 0})).status_code == 422
    assert (await http.get(base, params={"pages": 1})).status_code == 422  # an unknown parameter
    r = await http.post(base, content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "detail" in r.json(), r.text
