"""Each `/api` route over raw HTTP (SPEC §13): the exact shapes and status codes, the `detail`
envelope of every error (the framework's too), authentication, no redirects, `skip`/`limit`."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import KEY_A
from tests.e2e.backboard.helpers import data_events, detail, is_uuid, new_id, ok, say

ANSWER_FIELDS = {
    "message",
    "thread_id",
    "assistant_id",
    "message_id",
    "role",
    "content",
    "status",
    "memory_operation_id",
    "retrieved_memories",
    "model_provider",
    "model_name",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "created_at",
    "timestamp",
    "context_usage",
}


async def test_a_turn_answers_the_flat_message_object(http: httpx.AsyncClient) -> None:
    r = await http.post("/api/threads/messages", json={"content": "Hello there"})
    body = ok(r)
    assert set(body) == ANSWER_FIELDS
    assert r.headers["content-type"].startswith("application/json")
    assert (body["role"], body["status"], body["content"]) == ("assistant", "COMPLETED", "Hello there")
    assert is_uuid(body["thread_id"]) and is_uuid(body["assistant_id"]) and is_uuid(body["message_id"])
    # echo counts ceil(characters / 4) tokens: 11 characters in, 11 out.
    assert (body["input_tokens"], body["output_tokens"], body["total_tokens"]) == (3, 3, 6)
    assert body["context_usage"] == {
        "percent": round(100 * 3 / 32_768, 2),
        "used_tokens": 3,
        "context_limit": 32_768,
        "summary_tokens": 0,
        "model": "echo",
    }
    assert body["created_at"].endswith("Z") and body["timestamp"] == body["created_at"]
    assert body["memory_operation_id"] is None and body["retrieved_memories"] is None


async def test_a_streamed_turn_is_data_events_only(http: httpx.AsyncClient) -> None:
    r = await http.post("/api/threads/messages", json={"content": "stream", "stream": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    lines = [ln for ln in r.text.replace("\r\n", "\n").split("\n") if ln]
    assert all(ln.startswith("data: ") for ln in lines), lines
    events = data_events(r.text)
    assert [e["type"] for e in events] == [
        "run_started",
        "content_streaming",
        "message_complete",
        "run_ended",
    ]
    assert set(events[2]) == ANSWER_FIELDS | {"type"}
    assert events[3] == {
        "type": "run_ended",
        "status": "completed",
        "thread_id": events[0]["thread_id"],
        "assistant_id": events[0]["assistant_id"],
        "message_id": events[2]["message_id"],
    }


async def test_assistant_routes_shapes_and_statuses(http: httpx.AsyncClient) -> None:
    r = await http.post("/api/assistants", json={"name": "Shape", "system_prompt": "S", "description": "D"})
    made = ok(r)
    assert set(made) >= {"assistant_id", "name", "description", "system_prompt", "llm_provider", "model_name"}
    assert set(made) >= {"tools", "tok_k", "created_at", "updated_at"}
    assert (made["llm_provider"], made["model_name"], made["tools"]) == (None, None, None)
    aid = made["assistant_id"]
    assert ok(await http.get("/api/assistants")) == [made]
    assert ok(await http.get(f"/api/assistants/{aid}")) == made
    changed = ok(
        await http.put(f"/api/assistants/{aid}", json={"llm_provider": "OpenAI", "model_name": "gpt-4o"})
    )
    assert (changed["llm_provider"], changed["model_name"], changed["name"]) == ("openai", "gpt-4o", "Shape")
    gone = ok(await http.delete(f"/api/assistants/{aid}"))
    assert set(gone) == {"message", "assistant_id", "deleted_at", "threads_detached"}
    assert gone["assistant_id"] == aid and gone["threads_detached"] == 0
    assert "was not found" in detail(await http.get(f"/api/assistants/{aid}"), 404)


async def test_thread_routes_shapes_and_statuses(http: httpx.AsyncClient) -> None:
    aid = ok(await http.post("/api/assistants", json={"name": "T"}))["assistant_id"]
    made = ok(await http.post(f"/api/assistants/{aid}/threads", json={}))
    assert set(made) == {"thread_id", "assistant_id", "created_at", "messages", "metadata_"}
    assert made["assistant_id"] == aid and made["messages"] == [] and made["metadata_"] is None
    tid = made["thread_id"]
    with_meta = ok(await http.post(f"/api/assistants/{aid}/threads", json={"metadata": {"user": "u1"}}))
    assert with_meta["metadata_"] == {"user": "u1"}
    # No body at all is accepted too.
    no_body = ok(await http.post(f"/api/assistants/{aid}/threads"))
    await say(http, "hi", thread_id=tid)
    listed = ok(await http.get("/api/threads"))
    assert isinstance(listed, list) and listed[0]["thread_id"] == tid and listed[0]["messages"] == []
    assert [t["thread_id"] for t in ok(await http.get(f"/api/assistants/{aid}/threads"))] == [
        tid,
        no_body["thread_id"],
        with_meta["thread_id"],
    ]
    thread = ok(await http.get(f"/api/threads/{tid}"))
    assert [set(m) for m in thread["messages"]] == [
        {"message_id", "role", "content", "created_at", "metadata_"}
    ] * 2
    gone = ok(await http.delete(f"/api/threads/{tid}"))
    assert set(gone) == {"message", "thread_id", "deleted_at"} and gone["thread_id"] == tid
    assert "was not found" in detail(await http.get(f"/api/threads/{tid}"), 404)


@pytest.mark.parametrize(
    "path", ["/api/assistants/", "/api/threads/", "/api/threads?skip=0&limit=5", "/api/assistants?name=x"]
)
async def test_paths_answer_without_redirects(http: httpx.AsyncClient, path: str) -> None:
    r = await http.get(path)
    assert r.status_code == 200 and r.json() == []


async def test_a_turn_on_the_trailing_slash_path_is_served(http: httpx.AsyncClient) -> None:
    r = await http.post("/api/threads/messages/", json={"content": "slash"})
    assert ok(r)["content"] == "slash"


async def test_errors_outside_every_route_use_the_detail_envelope(http: httpx.AsyncClient) -> None:
    assert detail(await http.get("/api/no-such-route"), 404)
    r = await http.patch("/api/assistants")
    detail(r, 405)
    assert "GET" in r.headers["allow"] and "POST" in r.headers["allow"]
    # The Freddy door's paths keep their own envelope.
    assert (await http.get("/v1/no-such-route")).json()["success"] is False


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/threads"),
        ("GET", "/api/assistants"),
        ("POST", "/api/threads/messages"),
        # Fixed ids: a parameter's id must be the same in every collection (pytest-xdist).
        ("POST", "/api/threads/0b7e6a3c-2f1d-4c55-9a61-3d2e8f4b7c10/messages"),
        ("DELETE", "/api/threads/0b7e6a3c-2f1d-4c55-9a61-3d2e8f4b7c10"),
    ],
)
async def test_no_key_or_a_bad_key_is_401_with_detail(gateway: str, method: str, path: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as anon:
        assert "API key" in detail(await anon.request(method, path, json={"content": "x"}), 401)
        bad = await anon.request(method, path, json={"content": "x"}, headers={"X-API-Key": "nope"})
        assert "not valid" in detail(bad, 401)


async def test_a_bearer_key_works_as_well(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway, headers={"Authorization": f"Bearer {KEY_A}"}) as c:
        assert ok(await c.get("/api/threads")) == []


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/threads", {"limit": "0"}),
        ("/api/threads", {"limit": "201"}),
        ("/api/threads", {"skip": "-1"}),
        ("/api/threads", {"skip": "10001"}),
        ("/api/assistants", {"limit": "abc"}),
        ("/api/threads", {"page": "2"}),
        ("/api/assistants", {"search": "x"}),
    ],
)
async def test_query_parameters_out_of_bounds_or_unknown_are_422(
    http: httpx.AsyncClient, path: str, query: dict[str, str]
) -> None:
    detail(await http.get(path, params=query), 422)


async def test_list_limit_and_skip_cover_the_list_once(http: httpx.AsyncClient) -> None:
    made = [(await say(http, f"t{i}"))["thread_id"] for i in range(7)]
    newest_first = made[::-1]
    pages = [ok(await http.get("/api/threads", params={"skip": s, "limit": 3})) for s in (0, 3, 6, 9)]
    assert [t["thread_id"] for page in pages for t in page] == newest_first
    assert pages[-1] == []


async def test_assistant_not_found_and_thread_not_found_name_what_is_missing(http: httpx.AsyncClient) -> None:
    missing = new_id()
    assert missing in detail(await http.get(f"/api/assistants/{missing}"), 404)
    assert missing in detail(await http.get(f"/api/threads/{missing}"), 404)
    assert "Assistant" in detail(await http.post(f"/api/assistants/{missing}/threads", json={}), 404)


async def test_the_openapi_document_describes_the_api_routes(http: httpx.AsyncClient) -> None:
    doc = ok(await http.get("/schema/openapi.json"))
    paths = doc["paths"]
    for path, methods in {
        "/api/threads/messages": {"post"},
        "/api/threads/{thread_id}/messages": {"post"},
        "/api/assistants": {"get", "post"},
        "/api/assistants/{assistant_id}": {"get", "put", "delete"},
        "/api/assistants/{assistant_id}/threads": {"get", "post"},
        "/api/threads": {"get"},
        "/api/threads/{thread_id}": {"get", "delete"},
    }.items():
        assert set(paths[path]) == methods, path
        for method in methods:
            error = paths[path][method]["responses"]["404" if "{" in path else "401"]
            assert error["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/BackboardError"
            }
    turn = paths["/api/threads/messages"]["post"]
    assert set(turn["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }
    assert set(turn["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
