"""Memory on the Freddy door (SPEC §12): /v1/assistants/{id}/memories CRUD, paging and search with
scores, tenancy (another organization's assistant or memory is 404), bad input 422, turns with
`memory` and `user`, and /v1/memory-operations/{id}."""

from __future__ import annotations

import httpx

from tests.e2e.memory.conftest import settled, system_texts
from tests.fakes.upstream import FakeUpstream


async def assistant(http: httpx.AsyncClient, **fields: object) -> str:
    r = await http.post("/v1/assistants", json={"name": "Helper", **fields})
    assert r.status_code == 201, r.text
    aid: str = r.json()["id"]
    return aid


async def test_memories_are_created_listed_paged_updated_searched_and_deleted(
    http: httpx.AsyncClient,
) -> None:
    aid = await assistant(http)
    base = f"/v1/assistants/{aid}/memories"
    facts = ["I'm allergic to peanuts.", "My wife's birthday is on March 3rd.", "I drive a red Volvo."]
    made = []
    for fact in facts:
        r = await http.post(base, json={"memory": fact, "metadata": {"source": "test"}})
        assert r.status_code == 201, r.text
        made.append(r.json())
    assert made[0]["object"] == "memory" and made[0]["assistant_id"] == aid and made[0]["user"] is None
    first = (await http.get(base, params={"limit": 2})).json()
    assert [m["memory"] for m in first["data"]] == facts[::-1][:2]
    assert (first["total"], first["has_more"]) == (3, True)
    rest = (await http.get(base, params={"limit": 2, "offset": 2})).json()
    assert [m["memory"] for m in rest["data"]] == [facts[0]] and rest["has_more"] is False
    one = made[1]["id"]
    assert (await http.get(f"{base}/{one}")).json()["memory"] == facts[1]
    r = await http.put(f"{base}/{one}", json={"memory": "My wife's birthday is on May 5th."})
    assert r.status_code == 200 and r.json()["memory"] == "My wife's birthday is on May 5th."
    assert r.json()["metadata"] == {"source": "test"}
    found = (
        await http.post(f"{base}/search", json={"query": "When is my spouse's birthday?", "limit": 2})
    ).json()
    assert found["data"][0]["id"] == one and found["data"][0]["memory"].endswith("May 5th.")
    assert found["data"][0]["score"] > found["data"][1]["score"] and len(found["data"]) == 2
    found = (await http.post(f"{base}/search", json={"query": "Which food must I avoid?", "limit": 1})).json()
    assert [m["memory"] for m in found["data"]] == [facts[0]]
    r = await http.delete(f"{base}/{one}")
    assert r.status_code == 200 and r.json() == {"id": one, "object": "memory.deleted", "deleted": True}
    assert (await http.get(f"{base}/{one}")).status_code == 404
    assert (await http.delete(f"{base}/{one}")).status_code == 404
    assert (await http.get(base)).json()["total"] == 2
    # Deleting the assistant deletes its memories.
    assert (await http.delete(f"/v1/assistants/{aid}")).status_code == 200
    assert (await http.get(base)).status_code == 404


async def test_another_organizations_assistant_and_memories_are_not_found(
    http: httpx.AsyncClient, http_b: httpx.AsyncClient
) -> None:
    aid = await assistant(http)
    base = f"/v1/assistants/{aid}/memories"
    mid = (await http.post(base, json={"memory": "A secret of org A."})).json()["id"]
    for r in (
        await http_b.get(base),
        await http_b.post(base, json={"memory": "x"}),
        await http_b.get(f"{base}/{mid}"),
        await http_b.put(f"{base}/{mid}", json={"memory": "x"}),
        await http_b.delete(f"{base}/{mid}"),
        await http_b.post(f"{base}/search", json={"query": "secret"}),
    ):
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "ASSISTANT_NOT_FOUND"
    assert (await http.get(f"{base}/{mid}")).json()["memory"] == "A secret of org A."
    bb = await http_b.get(f"/api/assistants/{aid}/memories")
    assert bb.status_code == 404


async def test_malformed_memory_requests_are_422_never_500(http: httpx.AsyncClient) -> None:
    aid = await assistant(http)
    base = f"/v1/assistants/{aid}/memories"
    for body in ({}, {"memory": ""}, {"memory": 5}, {"memory": "x", "extra": 1}, {"memory": "x" * 8001}):
        r = await http.post(base, json=body)
        assert r.status_code == 422, (body, r.text)
    for body in ({}, {"query": ""}, {"query": "x", "limit": 0}, {"query": "x", "limit": 51}):
        r = await http.post(f"{base}/search", json=body)
        assert r.status_code == 422, (body, r.text)
    # Bodies that are not JSON and out-of-range query parameters are validation errors (SPEC §8).
    bad_json = await http.post(base, content=b"{not json", headers={"content-type": "application/json"})
    assert bad_json.status_code == 422 and bad_json.json()["error"]["code"] == "VALIDATION_ERROR"
    bad_limit = await http.get(base, params={"limit": 0})
    assert bad_limit.status_code == 422 and bad_limit.json()["error"]["code"] == "VALIDATION_ERROR"
    assert (await http.get("/v1/memory-operations/nope")).status_code == 404
    r = await http.post(
        "/v1/model/response",
        json={"assistant_id": aid, "inputs": [{"role": "user", "content": "hi"}], "memory": "sometimes"},
    )
    assert r.status_code == 422


async def test_a_freddy_turn_writes_and_reads_memory_of_its_user(
    http: httpx.AsyncClient, fake: FakeUpstream
) -> None:
    aid = await assistant(http, memory="auto", instructions="Be kind.")

    async def turn(text: str, **fields: object) -> dict[str, object]:
        body = {"assistant_id": aid, "inputs": [{"role": "user", "content": text}], **fields}
        r = await http.post("/v1/model/response", json=body)
        assert r.status_code == 200, r.text
        answer: dict[str, object] = r.json()
        return answer

    said = await turn("I'm allergic to peanuts.", user="ann")  # the assistant's mode: auto
    op = await settled(http, f"/v1/memory-operations/{said['memory_operation_id']}")
    assert op["object"] == "memory_operation" and op["status"] == "COMPLETED" and len(op["memory_ids"]) == 1
    memories = (await http.get(f"/v1/assistants/{aid}/memories", params={"user": "ann"})).json()["data"]
    assert [(m["id"], m["user"]) for m in memories] == [(op["memory_ids"][0], "ann")]
    asked = await turn("Any dietary restrictions you remember?", user="ann", memory="READONLY")
    assert asked["memory_operation_id"] is None
    assert [m["id"] for m in asked["retrieved_memories"]] == op["memory_ids"]  # type: ignore[union-attr]
    sent = fake.calls[-1].body["messages"]
    assert sent[0] == {"role": "system", "content": "Be kind."} and "peanuts" in sent[1]["content"]
    other = await turn("Any dietary restrictions you remember?", user="bob", memory="readonly")
    assert other.get("retrieved_memories") is None
    assert not any("peanuts" in t for t in system_texts(fake.calls[-1].body["messages"]))
    off = await turn("Any dietary restrictions you remember?", user="ann", memory="off")
    assert off.get("memory_operation_id") is None and off.get("retrieved_memories") is None
