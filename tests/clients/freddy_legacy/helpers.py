"""Shorthands of the aitronos-freddy suite: making either client, awaiting either kind."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from freddy import AsyncFreddyClient, FreddyClient
from freddy.models import ModelResponse
from gateway_process import KEY

Client = FreddyClient | AsyncFreddyClient


@asynccontextmanager
async def connect(kind: str, url: str, key: str = KEY) -> AsyncIterator[Client]:
    """A client as the SDK's README makes one: a context manager that closes its HTTP client."""
    if kind == "sync":
        with FreddyClient(api_key=key, base_url=url) as client:
            yield client
    else:
        async with AsyncFreddyClient(api_key=key, base_url=url) as aclient:
            yield aclient


async def call(result: Any) -> Any:
    """The async client's coroutine awaited, or the sync client's result as it is."""
    if inspect.isawaitable(result):
        return await result
    return result


def uid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def texts(text: str) -> dict[str, Any]:
    """An input item as the SDK's README writes one."""
    return {"role": "user", "texts": [{"text": text}]}


async def say(freddy: Client, text: str, **fields: Any) -> ModelResponse:
    """One `echo` turn through `client.responses.create`."""
    answer = await call(freddy.responses.create(model="echo", inputs=[texts(text)], **fields))
    assert isinstance(answer, ModelResponse), answer
    return answer


def text_of(answer: ModelResponse) -> str:
    """The answer's text as the SDK's README reads it."""
    return answer.output[0].content[0].text
