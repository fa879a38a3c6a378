"""Shared helpers of the /v1/threads tests: the object shapes of SPEC §4, and thin calls that check
the list envelope on every page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from tests.conftest import Api, ok

THREAD_FIELDS = {
    "id",
    "object",
    "organization_id",
    "state",
    "visible_in_ui",
    "metadata",
    "message_count",
    "usage",
    "created_at",
    "updated_at",
    "last_message_at",
    "expires_at",
    # SPEC §10's additions for Freddy's clients.
    "title",
    "assistant_id",
    "is_pinned",
    "pinned_at",
    "last_model_used",
    "user",
}
MESSAGE_FIELDS = {
    "id",
    "object",
    "thread_id",
    "role",
    "texts",
    "response_id",
    "created_at",
    "content",
    "metadata",
}
# `limit` is SPEC §10's; `total` comes only with `include_total=true`.
LIST_FIELDS = {"object", "data", "first_id", "last_id", "has_more", "limit"}


def created(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 201, (r.status_code, r.text[:500])
    body: dict[str, Any] = r.json()
    return body


def ts(value: str) -> datetime:
    """An RFC 3339 UTC timestamp, parsed (fails on anything else)."""
    assert isinstance(value, str) and value.endswith("Z"), value
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    return parsed


async def create(api: Api, **body: Any) -> dict[str, Any]:
    return created(await api.post("/v1/threads", json=body))


async def patch(api: Api, tid: str, **body: Any) -> httpx.Response:
    return await api.patch(f"/v1/threads/{tid}", json=body)


async def set_state(api: Api, tid: str, state: str) -> dict[str, Any]:
    thread = ok(await patch(api, tid, state=state))
    assert thread["state"] == state
    return thread


async def list_page(api: Api, **params: Any) -> dict[str, Any]:
    page = ok(await api.get("/v1/threads", params=params))
    assert set(page) == LIST_FIELDS, page
    assert page["object"] == "list"
    data = page["data"]
    assert page["first_id"] == (data[0]["id"] if data else None)
    assert page["last_id"] == (data[-1]["id"] if data else None)
    return page


async def listed_ids(api: Api, **params: Any) -> list[str]:
    """Every thread id of a listing, walking all pages."""
    ids: list[str] = []
    after: str | None = None
    for _ in range(1000):
        q = {"limit": 100, **params}
        if after is not None:
            q["after"] = after
        page = await list_page(api, **q)
        ids += [t["id"] for t in page["data"]]
        if not page["has_more"]:
            return ids
        after = page["last_id"]
    raise AssertionError("thread pagination did not end")


async def message_page(api: Api, tid: str, **params: Any) -> dict[str, Any]:
    page = ok(await api.get(f"/v1/threads/{tid}/messages", params=params))
    assert set(page) == LIST_FIELDS, page
    assert page["object"] == "list"
    data = page["data"]
    assert page["first_id"] == (data[0]["id"] if data else None)
    assert page["last_id"] == (data[-1]["id"] if data else None)
    return page


async def converse(api: Api, turns: int) -> tuple[str, list[dict[str, Any]]]:
    """A thread of `turns` turns `m0`, `m1`, ...; returns its id and the responses."""
    first = ok(await api.say("m0"))
    tid = first["thread_id"]
    responses = [first]
    for i in range(1, turns):
        responses.append(ok(await api.say(f"m{i}", thread=tid)))
    return tid, responses


def meta_of_size(size: int) -> dict[str, str]:
    """Metadata whose compact JSON is exactly `size` bytes: `{"k":"xx..."}` is 8 + n bytes."""
    meta = {"k": "x" * (size - 8)}
    assert len(httpx.Response(200, json=meta).content) == size  # compact, as httpx sends it
    return meta
