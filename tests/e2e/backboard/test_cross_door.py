"""One thread, any door (SPEC §1, §13): what the Backboard door makes is the Freddy door's too, a
Freddy thread or assistant with a UUID id is reachable through `/api`, other ids are not (404 and
absent from lists), and the message UUIDs shown here are derived from the core's ids."""

from __future__ import annotations

import uuid

import httpx

from tests.e2e.backboard.helpers import detail, new_id, ok, say, texts


def core_message_id(message_uuid: str) -> str:
    """The core's id a message UUID of this door stands for (the layout of its `ids.py`)."""
    h = message_uuid.replace("-", "")
    assert uuid.UUID(message_uuid).version == 8 and h.endswith("0bb0b0")
    return "msg_" + h[0:12] + h[13:16] + h[17:20] + h[20:26]


async def test_a_thread_made_through_api_is_a_freddy_thread(http: httpx.AsyncClient) -> None:
    first = await say(http, "via backboard")
    await say(http, "and again", thread_id=first["thread_id"])
    thread = ok(await http.get(f"/v1/threads/{first['thread_id']}"))
    assert thread["assistant_id"] == first["assistant_id"] and thread["message_count"] == 4
    assert await texts(http, first["thread_id"]) == [
        "via backboard",
        "via backboard",
        "and again",
        "via backboard\nand again",
    ]
    listed = ok(await http.get("/v1/threads"))["data"]
    assert [t["id"] for t in listed] == [first["thread_id"]]
    # Its assistant is a Freddy assistant too.
    assistant = ok(await http.get(f"/v1/assistants/{first['assistant_id']}"))
    assert assistant["name"] == "Default assistant"


async def test_message_uuids_stand_for_the_core_message_ids(http: httpx.AsyncClient) -> None:
    first = await say(http, "ids")
    api = ok(await http.get(f"/api/threads/{first['thread_id']}"))["messages"]
    v1 = ok(await http.get(f"/v1/threads/{first['thread_id']}/messages"))["data"]
    assert [core_message_id(m["message_id"]) for m in api] == [m["id"] for m in v1]
    assert core_message_id(first["message_id"]) == v1[-1]["id"]


async def test_a_freddy_thread_with_a_uuid_id_is_reachable_through_api(http: httpx.AsyncClient) -> None:
    tid = new_id()
    turn = {"model": "echo", "inputs": [{"role": "user", "content": "v1"}], "thread_id": tid}
    r = await http.post("/v1/model/response", json=turn)
    assert r.status_code == 200, r.text
    thread = ok(await http.get(f"/api/threads/{tid}"))
    assert [m["content"] for m in thread["messages"]] == ["v1", "v1"] and thread["assistant_id"] is None
    assert tid in {t["thread_id"] for t in ok(await http.get("/api/threads"))}
    # A turn through /api continues it; it has no assistant, so none is made for it.
    answer = ok(await http.post(f"/api/threads/{tid}/messages", data={"content": "api"}))
    assert answer["content"] == "v1\napi" and answer["assistant_id"] is None
    assert ok(await http.get("/api/assistants")) == []
    gone = ok(await http.delete(f"/api/threads/{tid}"))
    assert gone["thread_id"] == tid
    assert (await http.get(f"/v1/threads/{tid}")).status_code == 404


async def test_freddy_objects_with_other_ids_are_absent_from_api(http: httpx.AsyncClient) -> None:
    r = await http.post("/v1/threads", json={"id": "support_user123_ticket789"})
    assert r.status_code == 201, r.text
    r = await http.post("/v1/assistants", json={"name": "Native", "model": "echo"})
    assert r.status_code == 201, r.text  # SPEC §11: create answers 201
    native_aid = r.json()["id"]
    assert native_aid.startswith("asst_")
    assert "support_user123_ticket789" in detail(
        await http.get("/api/threads/support_user123_ticket789"), 404
    )
    detail(await http.delete("/api/threads/support_user123_ticket789"), 404)
    detail(await http.post("/api/threads/support_user123_ticket789/messages", data={"content": "x"}), 404)
    detail(await http.get(f"/api/assistants/{native_aid}"), 404)
    detail(await http.post(f"/api/assistants/{native_aid}/threads", json={}), 404)
    assert ok(await http.get("/api/threads")) == [] and ok(await http.get("/api/assistants")) == []
    # Still there, untouched, through their own door.
    assert ok(await http.get("/v1/threads/support_user123_ticket789"))["message_count"] == 0


async def test_an_api_thread_locked_through_freddy_is_locked_here_and_unlocked_again(
    http: httpx.AsyncClient,
) -> None:
    first = await say(http, "one")
    ok(await http.patch(f"/v1/threads/{first['thread_id']}", json={"state": "locked"}))
    r = await http.post("/api/threads/messages", json={"content": "two", "thread_id": first["thread_id"]})
    assert "locked" in detail(r, 409)
    ok(await http.patch(f"/v1/threads/{first['thread_id']}", json={"state": "open"}))
    assert (await say(http, "two", thread_id=first["thread_id"]))["content"] == "one\ntwo"


async def test_a_deleted_default_assistant_is_made_again_when_needed(http: httpx.AsyncClient) -> None:
    first = await say(http, "one")
    ok(await http.delete(f"/api/assistants/{first['assistant_id']}"))
    again = await say(http, "two")
    assert again["assistant_id"] == first["assistant_id"] and again["thread_id"] != first["thread_id"]
    assert [a["name"] for a in ok(await http.get("/api/assistants"))] == ["Default assistant"]
    # The first thread stays detached: the new default assistant has only the new thread.
    threads = ok(await http.get(f"/api/assistants/{again['assistant_id']}/threads"))
    assert [t["thread_id"] for t in threads] == [again["thread_id"]]
