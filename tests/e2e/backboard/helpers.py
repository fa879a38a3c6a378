"""Shorthands of the Backboard suite: its error envelope, its events, a Freddy-door side door."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx


def detail(r: httpx.Response, status: int) -> str:
    """Assert Backboard's error envelope (status, `{"detail": str}` and nothing else) and return
    the detail."""
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str) and body["detail"], body
    assert r.headers["x-request-id"]
    return str(body["detail"])


def ok(r: httpx.Response) -> Any:
    assert r.status_code == 200, (r.status_code, r.text[:500])
    return r.json()


def data_events(raw: str) -> list[dict[str, Any]]:
    """The `data:` events of a stream, as the SDK reads them (line by line)."""
    out: list[dict[str, Any]] = []
    for line in raw.replace("\r\n", "\n").split("\n"):
        if line.startswith("data: "):
            out.append(json.loads(line[6:]))
    return out


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and str(uuid.UUID(value)) == value


def new_id() -> str:
    """A UUID never used anywhere: an absent thread or assistant."""
    return str(uuid.uuid4())


async def say(http: httpx.AsyncClient, content: str, **fields: Any) -> dict[str, Any]:
    """One JSON turn through `/api/threads/messages`: the flat answer."""
    body: dict[str, Any] = ok(await http.post("/api/threads/messages", json={"content": content, **fields}))
    return body


async def lock(http: httpx.AsyncClient, thread_id: str, state: str = "locked") -> None:
    """Lock (or archive) a thread through the Freddy door: one thread, any door."""
    r = await http.patch(f"/v1/threads/{thread_id}", json={"state": state})
    assert r.status_code == 200, r.text


async def texts(http: httpx.AsyncClient, thread_id: str) -> list[str]:
    """A thread's messages' texts, read through the Freddy door."""
    r = await http.get(f"/v1/threads/{thread_id}/messages", params={"limit": 100})
    assert r.status_code == 200, r.text
    return ["\n".join(t["text"] for t in m["texts"]) for m in r.json()["data"]]
