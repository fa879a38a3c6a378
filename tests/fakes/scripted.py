"""An in-process provider that follows a script, and an event loop whose clock only moves when it
would otherwise wait: the core's calls (retries, backoff, deadlines) tested without a network and
without waiting for real time.

`ScriptedProvider`'s every call takes its script's next step: an answer to return, an exception to
raise, or a `Wait` (seconds of the loop's clock) before the answer. A stream's step is a tuple of
items yielded in order (an exception among them is raised there). Each call is recorded with the
loop's time it started at.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from providers.base import ChatMessage, Completion, EmbeddingRequest, Embeddings, ModelRequest, TextDelta

ANSWER = Completion(text="hello", input_tokens=5, output_tokens=3)
VECTORS = Embeddings(vectors=((1.0, 0.0), (0.0, 1.0)), input_tokens=4)


@dataclass(frozen=True)
class Wait:
    """Wait `seconds` of the loop's clock, then give `then` (raise it if it is an exception)."""

    seconds: float
    then: Any = ANSWER


@dataclass(frozen=True)
class Call:
    at: float
    operation: str
    request: ModelRequest | EmbeddingRequest


@dataclass
class ScriptedProvider:
    name: str
    script: list[Any] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    def _next(self, operation: str, request: ModelRequest | EmbeddingRequest) -> Any:
        self.calls.append(Call(asyncio.get_running_loop().time(), operation, request))
        return self.script.pop(0)

    @staticmethod
    async def _give(step: Any) -> Any:
        if isinstance(step, Wait):
            await asyncio.sleep(step.seconds)
            step = step.then
        if isinstance(step, BaseException):
            raise step
        return step

    def context_window(self, model: str) -> int:
        return 8192

    def count_tokens(self, message: ChatMessage) -> int:
        return message.chars // 4

    async def complete(self, request: ModelRequest) -> Completion:
        result: Completion = await self._give(self._next("complete", request))
        return result

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        result: Embeddings = await self._give(self._next("embed", request))
        return result

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | Completion]:
        for item in self._next("stream", request):
            yield await self._give(item)

    async def aclose(self) -> None:
        return None


class _VirtualSelector(selectors.DefaultSelector):
    """Polls without blocking; where the loop would sleep, its clock jumps ahead instead."""

    def __init__(self, loop: VirtualClockLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = super().select(0)
        if not events and timeout:
            self._loop.now += timeout
        return events


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose `time()` starts at 0 and advances only by the waits it is given."""

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(_VirtualSelector(self))

    def time(self) -> float:
        return self.now


def run_virtual[T](main: Callable[[], Awaitable[T]]) -> tuple[T, float]:
    """`main()`'s result and the loop's clock when it ended (as `asyncio.run`, with this loop)."""

    async def timed() -> tuple[T, float]:
        result = await main()
        return result, asyncio.get_running_loop().time()

    with asyncio.Runner(loop_factory=VirtualClockLoop) as runner:
        return runner.run(timed())
