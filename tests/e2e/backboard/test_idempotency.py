"""`Idempotency-Key` on the Backboard turn (SPEC §15, as on the Freddy door): a retried request gets
the first answer again and saves nothing more, as JSON or as a stream; the key of another request
is 422; a request that saved nothing frees its key."""

from __future__ import annotations

import httpx

from tests.e2e.backboard.helpers import data_events, detail, lock, ok, say

TURN = "/api/threads/messages"


async def test_a_retried_turn_gets_the_first_answer_and_saves_once(http: httpx.AsyncClient) -> None:
    first = await say(http, "one")
    body = {"content": "two", "thread_id": first["thread_id"]}
    key = {"Idempotency-Key": "retry-1"}
    r1 = await http.post(TURN, json=body, headers=key)
    r2 = await http.post(TURN, json=body, headers=key)
    assert ok(r2) == ok(r1) and r2.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in r1.headers
    messages = ok(await http.get(f"/api/threads/{first['thread_id']}"))["messages"]
    assert [m["content"] for m in messages] == ["one", "one", "two", "one\ntwo"]


async def test_a_retried_new_thread_turn_answers_the_same_thread(http: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": "new-thread-1"}
    r1 = ok(await http.post(TURN, json={"content": "hello"}, headers=key))
    # The same turn sent again as a form: the same request, the same answer.
    r2 = ok(await http.post(TURN, data={"content": "hello"}, headers=key))
    assert r2 == r1
    assert [t["thread_id"] for t in ok(await http.get("/api/threads"))] == [r1["thread_id"]]


async def test_a_retried_stream_is_replayed_as_a_stream(http: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": "stream-1"}
    body = {"content": "streamed once", "stream": True}
    first = data_events((await http.post(TURN, json=body, headers=key)).text)
    again = await http.post(TURN, json=body, headers=key)
    assert again.headers["idempotent-replayed"] == "true"
    replayed = data_events(again.text)
    assert [e["type"] for e in replayed] == ["content_streaming", "message_complete", "run_ended"]
    assert replayed[-1] == first[-1] and replayed[-2] == first[-2]
    thread = ok(await http.get(f"/api/threads/{first[-1]['thread_id']}"))
    assert len(thread["messages"]) == 2


async def test_a_key_used_with_another_request_is_422(http: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": "reused"}
    ok(await http.post(TURN, json={"content": "a"}, headers=key))
    assert "Idempotency-Key" in detail(await http.post(TURN, json={"content": "b"}, headers=key), 422)
    malformed = {"Idempotency-Key": "bad key with spaces"}
    detail(await http.post(TURN, json={"content": "a"}, headers=malformed), 422)


async def test_a_refused_turn_frees_its_key(http: httpx.AsyncClient) -> None:
    first = await say(http, "one")
    await lock(http, first["thread_id"])
    key = {"Idempotency-Key": "after-lock"}
    body = {"content": "two", "thread_id": first["thread_id"]}
    detail(await http.post(TURN, json=body, headers=key), 409)
    ok(await http.patch(f"/v1/threads/{first['thread_id']}", json={"state": "open"}))
    # Nothing was saved the first time, so the key runs the turn now.
    assert ok(await http.post(TURN, json=body, headers=key))["content"] == "one\ntwo"
