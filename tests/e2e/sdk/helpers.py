"""Shorthands of the aitronos-sdk suite: making a client, awaiting either kind, reading its errors."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from aitronos import Aitronos, AsyncAitronos, InputMessage
from aitronos.core.api_error import ApiError

from tests.conftest import KEY_A, sse_events

Client = Aitronos | AsyncAitronos


@asynccontextmanager
async def connect(kind: str, url: str, key: str = KEY_A) -> AsyncIterator[Client]:
    """A client made as its users make one, on an HTTP client that is closed afterwards."""
    if kind == "sync":
        with httpx.Client(timeout=30) as http:
            yield Aitronos(api_key=key, base_url=url, httpx_client=http)
    else:
        async with httpx.AsyncClient(timeout=30) as ahttp:
            yield AsyncAitronos(api_key=key, base_url=url, httpx_client=ahttp)


def kind_of(client: Client) -> str:
    return "async" if isinstance(client, AsyncAitronos) else "sync"


async def call(result: Any) -> Any:
    """The async client's coroutine awaited, or the sync client's result as it is."""
    if inspect.isawaitable(result):
        return await result
    return result


def user(text: str) -> InputMessage:
    return InputMessage(role="user", content=text)


async def say(sdk: Client, text: str, **fields: Any) -> dict[str, Any]:
    """One `echo` turn; the answer as the SDK hands it back (a plain dict)."""
    answer = await call(sdk.responses.create_response(model="echo", inputs=[user(text)], **fields))
    assert isinstance(answer, dict), answer
    return answer


async def raises(
    request: Callable[[], Any], status: int, code: str | None = None, *, kind: type[ApiError] = ApiError
) -> ApiError:
    """Make the request (`lambda: sdk....`) and return the error the SDK raised, after checking its
    class, its status and, given `code`, the code of the SPEC §8 envelope it carries."""
    with pytest.raises(kind) as caught:
        await call(request())
    exc = caught.value
    assert exc.status_code == status, (exc.status_code, exc.body)
    if code is not None:
        assert isinstance(exc.body, dict), exc.body
        assert exc.body["error"]["code"] == code, exc.body
    return exc


def event_stream(exc: ApiError) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """The events of a stream the SDK handed back as an `ApiError` body, and the body's `data:` lines.

    aitronos-sdk 5.0.0 parses every 2xx answer of `create_response` as JSON; an event stream is not
    JSON, so the SDK raises `ApiError(status_code=200, body=<the whole stream as text>)`.
    """
    assert exc.status_code == 200, (exc.status_code, exc.body)
    assert isinstance(exc.body, str), exc.body
    text = exc.body.replace("\r\n", "\n").replace("\r", "\n")
    data_lines = [line for line in text.split("\n") if line.startswith("data:")]
    return sse_events(text), data_lines


def completed_text(events: list[tuple[str, dict[str, Any]]]) -> str:
    name, data = events[-1]
    assert name == "response.completed", [n for n, _ in events]
    text: str = data["response"]["output_text"]
    return text


def state(name: str) -> dict[str, Any]:
    """`request_options` that add `state` to a PATCH: aitronos-sdk's `update_thread` has no argument
    for it, so its users pass it as an additional body parameter."""
    return {"additional_body_parameters": {"state": name}}
