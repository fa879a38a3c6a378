"""The built-in `echo` model: no key, no network; the workhorse of the tests (SPEC §7)."""

from __future__ import annotations

import math
import zlib
from collections.abc import AsyncIterator

from providers.base import (
    ChatMessage,
    Completion,
    EmbeddingRequest,
    Embeddings,
    ModelRequest,
    TextDelta,
    estimate_tokens,
)

# The length of echo's vectors, whatever the model name.
EMBEDDING_DIMENSIONS = 256
_GRAM = 3


def embedding(text: str) -> tuple[float, ...]:
    """A deterministic local embedding of `text`: its character trigrams (lowercased, padded with a
    space at either end) counted into `EMBEDDING_DIMENSIONS` buckets by CRC-32, then L2-normalized.

    The same text always gives the same vector, in every process (no salted `hash`); texts that
    share many trigrams have a high cosine similarity. Every vector has unit norm: the empty text
    (padded, two spaces) counts as one gram of its own.
    """
    padded = f" {text.lower()} "
    grams = [padded[i : i + _GRAM] for i in range(len(padded) - _GRAM + 1)] or [padded]
    counts = [0] * EMBEDDING_DIMENSIONS
    for gram in grams:
        counts[zlib.crc32(gram.encode()) % EMBEDDING_DIMENSIONS] += 1
    norm = math.sqrt(sum(c * c for c in counts))
    return tuple(c / norm for c in counts)


class EchoProvider:
    """Answers with the text of every `user` message it received, in order, one per line; embeds
    with `embedding`."""

    name = "echo"

    def __init__(self, context_tokens: int = 32_768) -> None:
        self._context_tokens = context_tokens

    def context_window(self, model: str) -> int:
        return self._context_tokens

    token_framing = 0  # `count_tokens` is `estimate_tokens` with it (the budget inlines it)

    def count_tokens(self, message: ChatMessage) -> int:
        return estimate_tokens(message, self.token_framing)

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

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        """`embedding` of each text; input tokens counted as for messages (four characters a token)."""
        return Embeddings(
            vectors=tuple(embedding(t) for t in request.texts),
            input_tokens=sum(math.ceil(len(t) / 4) for t in request.texts),
        )

    async def aclose(self) -> None:
        return None
