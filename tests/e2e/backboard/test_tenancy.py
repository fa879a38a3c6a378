"""SPEC §2 on the Backboard door: for every `/api` route, another organization's thread or assistant
answers exactly as one that does not exist (404, the same detail but for the id), and nothing of
it changes or leaks into the other organization's lists."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.backboard.helpers import detail, lock, new_id, ok, say

# (method, path, how the body is sent, body); {tid} and {aid} are organization A's ids (or missing).
ROUTES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("POST", "/api/threads/messages", "json", {"content": "x", "thread_id": "{tid}"}),
    ("POST", "/api/threads/messages", "json", {"content": "x", "thread_id": "{tid}", "stream": True}),
    ("POST", "/api/threads/messages", "form", {"content": "x", "thread_id": "{tid}"}),
    ("POST", "/api/threads/messages", "json", {"content": "x", "assistant_id": "{aid}"}),
    ("POST", "/api/threads/{tid}/messages", "form", {"content": "x"}),
    ("POST", "/api/threads/{tid}/messages", "form", {"content": "x", "stream": "true"}),
    ("GET", "/api/threads/{tid}", "none", None),
    ("DELETE", "/api/threads/{tid}", "none", None),
    ("GET", "/api/assistants/{aid}", "none", None),
    ("PUT", "/api/assistants/{aid}", "json", {"name": "taken over"}),
    ("DELETE", "/api/assistants/{aid}", "none", None),
    ("POST", "/api/assistants/{aid}/threads", "json", {}),
    ("GET", "/api/assistants/{aid}/threads", "none", None),
]


def _fill(value: Any, tid: str, aid: str) -> Any:
    if isinstance(value, str):
        return value.replace("{tid}", tid).replace("{aid}", aid)
    if isinstance(value, dict):
        return {k: _fill(v, tid, aid) for k, v in value.items()}
    return value


async def _call(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    kind: str,
    body: dict[str, Any] | None,
    tid: str,
    aid: str,
) -> httpx.Response:
    kw: dict[str, Any] = {}
    filled = _fill(body, tid, aid)
    if kind == "json":
        kw["json"] = filled
    elif kind == "form":
        kw["data"] = filled
    return await http.request(method, _fill(path, tid, aid), **kw)


@pytest.fixture
async def a_objects(http: httpx.AsyncClient) -> tuple[str, str]:
    """Organization A's assistant and a thread of it with one turn."""
    aid = ok(await http.post("/api/assistants", json={"name": "Alpha only"}))["assistant_id"]
    tid = (await say(http, "alpha secret", assistant_id=aid))["thread_id"]
    return tid, aid


async def _snapshot(http: httpx.AsyncClient, tid: str, aid: str) -> tuple[Any, ...]:
    return (
        ok(await http.get(f"/api/threads/{tid}")),
        ok(await http.get(f"/api/assistants/{aid}")),
        ok(await http.get(f"/api/assistants/{aid}/threads")),
    )


@pytest.mark.parametrize("a_state", ["open", "locked"])
@pytest.mark.parametrize(
    ("method", "path", "kind", "body"), ROUTES, ids=[f"{m} {p} {k} {b}" for m, p, k, b in ROUTES]
)
async def test_org_b_on_org_a_objects_answers_exactly_like_missing_ones(
    http: httpx.AsyncClient,
    http_b: httpx.AsyncClient,
    a_objects: tuple[str, str],
    method: str,
    path: str,
    kind: str,
    body: dict[str, Any] | None,
    a_state: str,
) -> None:
    tid, aid = a_objects
    if a_state == "locked":
        await lock(http, tid)
    before = await _snapshot(http, tid, aid)
    missing_tid, missing_aid = new_id(), new_id()
    r_other = await _call(http_b, method, path, kind, body, tid, aid)
    r_missing = await _call(http_b, method, path, kind, body, missing_tid, missing_aid)
    missing_detail = detail(r_missing, 404)
    other_detail = detail(r_other, 404)
    assert other_detail == missing_detail.replace(missing_tid, tid).replace(missing_aid, aid)
    assert await _snapshot(http, tid, aid) == before
    # B made nothing on the way (no thread, no default assistant).
    assert ok(await http_b.get("/api/threads")) == [] and ok(await http_b.get("/api/assistants")) == []


async def test_lists_hold_only_the_callers_own_objects(
    http: httpx.AsyncClient, http_b: httpx.AsyncClient, a_objects: tuple[str, str]
) -> None:
    tid, aid = a_objects
    b_turn = await say(http_b, "beta")
    assert [t["thread_id"] for t in ok(await http_b.get("/api/threads"))] == [b_turn["thread_id"]]
    assert [a["assistant_id"] for a in ok(await http_b.get("/api/assistants"))] == [b_turn["assistant_id"]]
    assert ok(await http_b.get("/api/assistants", params={"name": "Alpha only"})) == []
    # Each organization has its own default assistant.
    assert b_turn["assistant_id"] != (await say(http, "alpha default"))["assistant_id"]
    assert tid in {t["thread_id"] for t in ok(await http.get("/api/threads"))}
    assert aid in {a["assistant_id"] for a in ok(await http.get("/api/assistants"))}
