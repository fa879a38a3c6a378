"""The built-in `echo` model: no key, no network; the workhorse of the tests (SPEC §7)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

from providers.base import ChatMessage, Completion, ModelRequest, TextDelta


class EchoProvider:
    """Answers with the text of every `user` message it received, in order, one per line."""

    name = "echo"

    def __init__(self, context_tokens: int = 32_768) -> None:
        self._context_tokens = context_tokens

    def context_window(self, model: str) -> int:
        return self._context_tokens

    def count_tokens(self, message: ChatMessage) -> int:
        return math.ceil(message.chars / 4)

    def _lines(self, request: ModelRequest) -> list[str]:
        return [m.text for m in request.messages if m.role == "user"]

    def _completion(self, request: ModelRequest, text: str) -> Completion:
        input_tokens = sum(self.count_tokens(m) for m in request.messages)
        return Completion(text=text, input_tokens=input_tokens, output_tokens=math.ceil(len(text) / 4))

    async def complete(self, request: ModelRequest) -> Completion:
        return self._completion(request, "\n".join(self._lines(request)))

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | Completion]:
        lines = self._lines(request)
        # One delta per line, the newline riding on the line before it, so that the deltas
        # joined are exactly the completed text.
        for i, line in enumerate(lines):
            yield TextDelta(line + ("\n" if i < len(lines) - 1 else ""))
        yield self._completion(request, "\n".join(lines))

    async def aclose(self) -> None:
        return None
