"""The provider seam: what every model adapter takes and gives back (SPEC §7).

Adapters know messages and models, nothing of threads, organizations or HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal, Protocol

import msgspec

Role = Literal["user", "assistant", "system"]


class ChatMessage(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One message as a model sees it. `array_like` keeps stored contexts compact; `gc=False`: it
    holds only strings, so it is never part of a reference cycle and the collector need not walk
    the many a worker keeps (gateway.store.sqlite.windows)."""

    role: Role
    texts: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    @property
    def chars(self) -> int:
        texts = self.texts
        return len(texts[0]) if len(texts) == 1 else sum(map(len, texts))


class ModelRequest(msgspec.Struct, frozen=True, kw_only=True):
    model: str
    messages: tuple[ChatMessage, ...]
    temperature: float | None = None
    top_p: float | None = None
    max_output_tokens: int | None = None


class Completion(msgspec.Struct, frozen=True, kw_only=True):
    """A finished answer with the provider's own token counts."""

    text: str
    input_tokens: int
    output_tokens: int


class TextDelta(msgspec.Struct, frozen=True):
    text: str


class EmbeddingRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Texts to embed with one model (the upstream's name for it, as for `ModelRequest`)."""

    model: str
    texts: tuple[str, ...]


class Embeddings(msgspec.Struct, frozen=True, kw_only=True):
    """One vector per text of the request, in its order, with the provider's own input token count."""

    vectors: tuple[tuple[float, ...], ...]
    input_tokens: int


def estimate_tokens(message: ChatMessage, framing: int) -> int:
    """The gateway's estimate of a message's tokens: a token per four characters (rounded up) and
    `framing` for the message's own markup. Used only to fit history; usage comes from providers."""
    return (message.chars + 3) // 4 + framing


class Provider(Protocol):
    """A model adapter. `stream` yields text deltas as they arrive, then exactly one `Completion`."""

    name: str

    def context_window(self, model: str) -> int: ...

    def count_tokens(self, message: ChatMessage) -> int: ...

    async def complete(self, request: ModelRequest) -> Completion: ...

    def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | Completion]: ...

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        """The texts' vectors; `EmbeddingsUnsupported` from a provider without an embeddings API."""

    async def aclose(self) -> None:
        """Release the adapter's HTTP client (called from the app's lifespan)."""
