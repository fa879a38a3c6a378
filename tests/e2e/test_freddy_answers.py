"""SPEC §10, what Freddy's clients read: the additions to the response object, and to threads,
lists and messages."""

from __future__ import annotations

from datetime import datetime

from tests.conftest import Api, err, ok, uid


async def test_a_response_carries_freddy_s_names_beside_the_contract_s(a: Api) -> None:
    r = ok(await a.say("Hello"))
    created = datetime.fromisoformat(r["created_at"].replace("Z", "+00:00"))
    assert r["createdAt"] == int(created.timestamp())
    assert r["success"] is True and r["response"] == "Hello" and r["response_id"] == r["id"]
    assert r["is_summarized"] is False and r["assistant_id"] is None
    [item] = r["output"]
    assert item["status"] == "completed"
    assert item["content"] == [{"type": "output_text", "text": "Hello", "annotations": []}]


async def test_a_thread_has_a_title_of_at_most_200_characters(a: Api) -> None:
    tid = uid()
    created = await a.post("/v1/threads", json={"id": tid, "title": "Trip to Rome"})
    assert created.status_code == 201 and created.json()["title"] == "Trip to Rome"
    assert ok(await a.patch(f"/v1/threads/{tid}", json={"title": "Rome, day 2"}))["title"] == "Rome, day 2"
    assert ok(await a.thread(tid))["title"] == "Rome, day 2"
    err(await a.patch(f"/v1/threads/{tid}", json={"title": "x" * 201}), 422, "VALIDATION_ERROR")
    assert ok(await a.patch(f"/v1/threads/{tid}", json={"title": ""}))["title"] is None


async def test_pin_and_unpin(a: Api) -> None:
    tid = uid()
    assert (await a.post("/v1/threads", json={"id": tid})).status_code == 201
    t = ok(await a.thread(tid))
    assert t["is_pinned"] is False and t["pinned_at"] is None
    pinned = ok(await a.post(f"/v1/threads/{tid}/pin"))
    assert pinned["is_pinned"] is True and pinned["pinned_at"] is not None
    again = ok(await a.post(f"/v1/threads/{tid}/pin"))
    assert again["pinned_at"] == pinned["pinned_at"]  # pinning twice keeps the first time
    listed = ok(await a.get("/v1/threads", params={"is_pinned": "true"}))
    assert [t["id"] for t in listed["data"]] == [tid]
    unpinned = ok(await a.post(f"/v1/threads/{tid}/unpin"))
    assert unpinned["is_pinned"] is False and unpinned["pinned_at"] is None
    assert ok(await a.get("/v1/threads", params={"is_pinned": "true"}))["data"] == []
    err(await a.post("/v1/threads/nope_x/pin"), 404, "THREAD_NOT_FOUND")


async def test_generate_name_titles_the_thread_from_its_first_messages(a: Api) -> None:
    tid = uid()
    ok(await a.say("Plan a weekend in Lisbon", thread=tid))
    named = ok(await a.post(f"/v1/threads/{tid}/generateName"))
    # echo answers with the user messages it got: the transcript's first line, as the title.
    assert named["title"] == "user: Plan a weekend in Lisbon"
    assert ok(await a.thread(tid))["title"] == named["title"]
    # The naming call saved nothing: the thread still has its one turn.
    assert ok(await a.thread(tid))["message_count"] == 2
    assert len(await a.messages(tid)) == 2


async def test_last_model_used_follows_the_turns(a: Api) -> None:
    tid = uid()
    assert (await a.post("/v1/threads", json={"id": tid})).status_code == 201
    assert ok(await a.thread(tid))["last_model_used"] is None
    ok(await a.say("hi", thread=tid))
    assert ok(await a.thread(tid))["last_model_used"] == "echo"


async def test_delete_all_deletes_every_thread_of_the_organization_only(a: Api, b: Api) -> None:
    mine = [uid() for _ in range(3)]
    for tid in mine:
        ok(await a.say("x", thread=tid))
    theirs = uid()
    ok(await b.say("y", thread=theirs))
    r = ok(await a.delete("/v1/threads"))
    assert r["deleted"] == 3 and r["success"] is True and "3" in r["message"]
    assert ok(await a.get("/v1/threads"))["data"] == []
    for tid in mine:
        err(await a.thread(tid), 404, "THREAD_NOT_FOUND")
        err(await a.say("again", thread=tid), 404, "THREAD_NOT_FOUND")  # ids are not reborn
    assert ok(await b.thread(theirs))["message_count"] == 2


async def test_lists_carry_their_limit_and_total_when_asked(a: Api) -> None:
    for _ in range(3):
        assert (await a.post("/v1/threads", json={"id": uid()})).status_code == 201
    page = ok(await a.get("/v1/threads", params={"limit": 2}))
    assert page["limit"] == 2 and "total" not in page
    page = ok(await a.get("/v1/threads", params={"limit": 2, "include_total": "true"}))
    assert page["total"] == 3 and len(page["data"]) == 2


async def test_order_and_before_walk_the_list_both_ways(a: Api) -> None:
    ids = []
    for i in range(4):
        tid = f"{uid()}_{i}"
        ok(await a.say(f"m{i}", thread=tid))
        ids.append(tid)
    newest = [t["id"] for t in ok(await a.get("/v1/threads"))["data"]]
    assert newest == ids[::-1]
    oldest = [t["id"] for t in ok(await a.get("/v1/threads", params={"order": "asc"}))["data"]]
    assert oldest == ids
    before = ok(await a.get("/v1/threads", params={"before": ids[1], "limit": 2}))
    assert [t["id"] for t in before["data"]] == [ids[3], ids[2]]
    err(await a.get("/v1/threads", params={"before": "no_such"}), 422, "VALIDATION_ERROR")
    err(await a.get("/v1/threads", params={"before": ids[0], "after": ids[1]}), 422, "VALIDATION_ERROR")


async def test_the_filter_of_an_unknown_assistant_lists_no_thread(a: Api) -> None:
    ok(await a.say("x"))
    page = ok(await a.get("/v1/threads", params={"assistant_id": "asst_1", "include_total": "true"}))
    assert page["data"] == [] and page["total"] == 0
