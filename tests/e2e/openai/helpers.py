"""Shorthands of the `openai` SDK suite: making a client of either kind, awaiting either kind,
streaming with either kind, reading the errors it raises, and validating what the gateway sent
against the SDK's own models (strictly) and the Open Responses schemas."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from tests.conftest import KEY_A
from tests.e2e.openai.openresponses import check_event, check_response

Client = OpenAI | AsyncOpenAI
_EVENT = TypeAdapter(ResponseStreamEvent)


@asynccontextmanager
async def connect(kind: str, url: str, key: str = KEY_A) -> AsyncIterator[Client]:
    """A client as its users make one (no retries: an error is seen as the gateway gave it)."""
    if kind == "sync":
        with OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30) as sync:
            yield sync
    else:
        async with AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30) as c:
            yield c


def is_async(client: Client) -> bool:
    return isinstance(client, AsyncOpenAI)


async def call(result: Any) -> Any:
    """The async client's coroutine awaited, or the sync client's result as it is."""
    if inspect.isawaitable(result):
        return await result
    return result


async def every(result: Any) -> list[Any]:
    """Every element of a page or stream, of either client (pages are walked to their end)."""
    result = await call(result)
    if hasattr(result, "__aiter__"):
        return [x async for x in result]
    return list(result)


async def say(client: Client, text: str = "hello", **fields: Any) -> Response:
    """One `echo` response, as the SDK parsed it."""
    response = await call(client.responses.create(model="echo", input=text, **fields))
    assert isinstance(response, Response)
    return response


async def helper_stream(client: Client, **fields: Any) -> tuple[list[Any], Response]:
    """`client.responses.stream(...)` iterated to its end: its events and its final response."""
    if isinstance(client, AsyncOpenAI):
        async with client.responses.stream(**fields) as astream:
            events = [e async for e in astream]
            final = await astream.get_final_response()
    else:
        with client.responses.stream(**fields) as stream:
            events = list(stream)
            final = stream.get_final_response()
    return events, final


async def raises[E: openai.APIStatusError](request: Callable[[], Any], kind: type[E], status: int) -> E:
    """Make the request (`lambda: client....`); the SDK raised `kind` with `status`, its body in
    OpenAI's envelope. Returns the exception."""
    with pytest.raises(kind) as caught:
        await call(request())
    exc = caught.value
    assert exc.status_code == status, (exc.status_code, exc.body)
    error_shape(exc.body)
    return exc


def error_shape(body: object) -> dict[str, Any]:
    """OpenAI's error envelope, and nothing of the other doors' (`success`, `detail`)."""
    assert isinstance(body, dict), body
    if "error" not in body:  # the SDK hands over the envelope's `error` itself
        body = {"error": body}
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and isinstance(error["code"], str)
    return error


def strict_response(data: dict[str, Any]) -> Response:
    """The response object as the gateway sent it: valid for the SDK's model (strictly) and for
    Open Responses' `ResponseResource`."""
    check_response(data)
    return Response.model_validate(data, strict=True)


def strict_events(raw: str) -> list[dict[str, Any]]:
    """A raw `text/event-stream` body: each event's `event:` name equals its JSON `type`, each
    validates (SDK model strictly, Open Responses schema), numbered 0, 1, 2 ..."""
    import json

    events: list[dict[str, Any]] = []
    for block in raw.replace("\r\n", "\n").strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        data = json.loads(lines["data"])
        assert lines["event"] == data["type"], block
        check_event(data)
        _EVENT.validate_python(data, strict=True)
        events.append(data)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events


async def raw_stream(http: httpx.AsyncClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    r = await http.post("/v1/responses", json={**body, "stream": True})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    return strict_events(r.text)


TEXT_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
]
DONE_EVENTS = [
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


async def set_state(http: httpx.AsyncClient, thread_id: str, state: str) -> None:
    """A thread's state changed through the Freddy door (`PATCH /v1/threads/{id}`)."""
    r = await http.patch(f"/v1/threads/{thread_id}", json={"state": state})
    assert r.status_code == 200, r.text


async def thread_texts(http: httpx.AsyncClient, thread_id: str) -> list[tuple[str, str]]:
    """A thread's messages as the Freddy door lists them: (role, text), oldest first."""
    r = await http.get(f"/v1/threads/{thread_id}/messages", params={"limit": 100})
    assert r.status_code == 200, r.text
    return [(m["role"], m["content"]) for m in r.json()["data"]]
