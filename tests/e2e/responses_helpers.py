"""Shared helpers of the POST /v1/model/response tests: a clock moved by hand, a provider that
records what it was sent, an app with chosen providers and settings, and turn shorthands."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from providers.base import ChatMessage, Completion, ModelRequest, TextDelta
from tests.conftest import KEY_A, Api, make_settings, running


class FakeClock:
    """Integer microseconds, starting at the real time, moved only by `advance`."""

    def __init__(self) -> None:
        self.now = time.time_ns() // 1000

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1_000_000)


class Recorder:
    """A provider that remembers exactly what it was sent and answers with a fixed text."""

    name = "recorder"

    def __init__(self, window: int = 32_768, reply: str = "ok") -> None:
        self.window = window
        self.reply = reply
        self.requests: list[ModelRequest] = []

    @property
    def last(self) -> list[tuple[str, str]]:
        return [(m.role, m.text) for m in self.requests[-1].messages]

    def context_window(self, model: str) -> int:
        return self.window

    def count_tokens(self, message: ChatMessage) -> int:
        return math.ceil(message.chars / 4)

    def _completion(self, request: ModelRequest) -> Completion:
        self.requests.append(request)
        return Completion(
            text=self.reply,
            input_tokens=sum(self.count_tokens(m) for m in request.messages),
            output_tokens=math.ceil(len(self.reply) / 4),
        )

    async def complete(self, request: ModelRequest) -> Completion:
        return self._completion(request)

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | Completion]:
        completion = self._completion(request)
        yield TextDelta(completion.text)
        yield completion


@asynccontextmanager
async def gateway(
    tmp_path: Path,
    *,
    providers: dict[str, Any] | None = None,
    clock: Callable[[], int] | None = None,
    **overrides: Any,
) -> AsyncIterator[Api]:
    kwargs: dict[str, Any] = {}
    if providers is not None:
        kwargs["providers"] = providers
    if clock is not None:
        kwargs["clock"] = clock
    async with running(make_settings(tmp_path, **overrides), **kwargs) as client:
        yield Api(client, KEY_A)


def texts(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["role"], "\n".join(t["text"] for t in m["texts"])) for m in messages]


async def turn(api: Api, inputs: list[dict[str, Any]], **fields: Any) -> Any:
    return await api.post("/v1/model/response", json={"model": "echo", "inputs": inputs, **fields})
