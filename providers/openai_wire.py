"""OpenAI's wire format, shared by both OpenAI adapters: Chat Completions and Embeddings.

`ChatCompletionsAdapter` is everything of an adapter but the transport: the request bodies, the
answers and stream chunks decoded with msgspec, the relay of chunks and the mapping to our types.
`providers.openai` (the official SDK, OpenAI's own API) and `providers.compatible` (the direct
client, the config file's endpoints) each add how a body is sent and a stream is read.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, ClassVar

import msgspec

from providers.base import (
    ChatMessage,
    Completion,
    EmbeddingRequest,
    Embeddings,
    ModelRequest,
    TextDelta,
    estimate_tokens,
)
from providers.errors import ErrorFamily, UpstreamErrors

DEFAULT_CONTEXT_TOKENS = 128_000
# Usage arrives in a stream only when asked for, in a last chunk.
_STREAM_FIELDS = {"stream": True, "stream_options": {"include_usage": True}}


class _Message(msgspec.Struct):
    content: str | None = None


class _Choice(msgspec.Struct):
    message: _Message


class _Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _ChatCompletion(msgspec.Struct):
    """The fields of a Chat Completions answer the gateway reads; others are ignored."""

    choices: list[_Choice] = msgspec.field(default_factory=list)
    usage: _Usage | None = None


class _Delta(msgspec.Struct):
    content: str | None = None


class _ChunkChoice(msgspec.Struct):
    delta: _Delta = msgspec.field(default_factory=_Delta)


class Chunk(msgspec.Struct):
    """One event of a streamed Chat Completion: a delta, or the last one's usage."""

    choices: list[_ChunkChoice] = msgspec.field(default_factory=list)
    usage: _Usage | None = None


class _Embedding(msgspec.Struct):
    embedding: tuple[float, ...]
    index: int


class _EmbeddingList(msgspec.Struct):
    """The fields of an Embeddings answer the gateway reads (`encoding_format` "float")."""

    data: list[_Embedding]
    usage: _Usage | None = None


encode = msgspec.json.Encoder().encode
_decode_completion = msgspec.json.Decoder(_ChatCompletion).decode
decode_chunk = msgspec.json.Decoder(Chunk).decode
_decode_embeddings = msgspec.json.Decoder(_EmbeddingList).decode


def _messages(request: ModelRequest) -> list[dict[str, Any]]:
    """The messages as dicts (the SDK's `create()`, for a stream from OpenAI's own API)."""
    return [
        {
            "role": m.role,
            "content": m.texts[0] if len(m.texts) == 1 else [{"type": "text", "text": t} for t in m.texts],
        }
        for m in request.messages
    ]


class _Part(msgspec.Struct):
    type: str
    text: str


class _WireMessage(msgspec.Struct):
    """A message as `_messages` makes it, encoded by msgspec straight from a struct (a turn sends
    its whole window: a struct is made and encoded faster than a dict)."""

    role: str
    content: str | list[_Part]


def _wire_messages(request: ModelRequest) -> list[_WireMessage]:
    return [
        _WireMessage(m.role, m.texts[0] if len(m.texts) == 1 else [_Part("text", t) for t in m.texts])
        for m in request.messages
    ]


def _embeddings_body(request: EmbeddingRequest) -> bytes:
    # Floats, not the SDK's default base64: every compatible server knows them.
    return encode({"model": request.model, "input": list(request.texts), "encoding_format": "float"})


def to_embeddings(data: bytes, count: int) -> Embeddings:
    """An Embeddings answer for `count` texts, vectors in the texts' order (by each item's `index`).

    An answer without exactly one vector per text is unreadable (`msgspec.ValidationError`).
    """
    answer = _decode_embeddings(data)
    items = sorted(answer.data, key=lambda item: item.index)
    if [item.index for item in items] != list(range(count)):
        raise msgspec.ValidationError(f"expected one embedding for each of {count} texts")
    return Embeddings(
        vectors=tuple(item.embedding for item in items),
        input_tokens=answer.usage.prompt_tokens if answer.usage else 0,
    )


def to_completion(data: bytes) -> Completion:
    result = _decode_completion(data)
    text = (result.choices[0].message.content or "") if result.choices else ""
    usage = result.usage
    return Completion(
        text=text,
        input_tokens=usage.prompt_tokens if usage else 0,
        output_tokens=usage.completion_tokens if usage else 0,
    )


async def relay(chunks: AsyncIterator[Any]) -> AsyncIterator[TextDelta | Completion]:
    """Chat Completion chunks (the SDK's models or `Chunk`: the same fields) as deltas, then the
    whole answer with the usage of the last chunk."""
    parts: list[str] = []
    input_tokens = output_tokens = 0
    async for chunk in chunks:
        if chunk.usage is not None:
            input_tokens = chunk.usage.prompt_tokens
            output_tokens = chunk.usage.completion_tokens
        for choice in chunk.choices:
            if choice.delta.content:
                parts.append(choice.delta.content)
                yield TextDelta(choice.delta.content)
    yield Completion(text="".join(parts), input_tokens=input_tokens, output_tokens=output_tokens)


class ChatCompletionsAdapter(ABC):
    """A provider speaking OpenAI's wire format. A subclass gives the transport (`_post`, `_chunks`,
    `aclose`) and the `ErrorFamily` of its client (`error_family`); every call runs inside the one
    error mapping (`providers.errors.UpstreamErrors`).

    `windows`: context windows by model; any other model gets `default_window` (for a config-file
    endpoint, its configured `context_tokens`, whatever the model's name).
    """

    error_family: ClassVar[ErrorFamily]

    def __init__(
        self,
        name: str,
        default_window: int,
        *,
        legacy_max_tokens: bool,
        windows: dict[str, int] | None = None,
    ) -> None:
        self.name = name
        self._errors = UpstreamErrors(name, self.error_family)
        self._windows = dict(windows or {})
        self._default_window = default_window
        # OpenAI's own API wants `max_completion_tokens`; most compatible servers know `max_tokens`.
        self._max_tokens_field = "max_tokens" if legacy_max_tokens else "max_completion_tokens"

    def context_window(self, model: str) -> int:
        return self._windows.get(model, self._default_window)

    # `count_tokens` is `estimate_tokens` with this framing (the budget inlines it for a window).
    token_framing = 4

    def count_tokens(self, message: ChatMessage) -> int:
        # An estimate (about four characters a token, plus the message's framing), used only to
        # fit the history; `usage` always comes from the provider's own counts.
        return estimate_tokens(message, self.token_framing)

    def _params(self, request: ModelRequest, *, wire: bool = False) -> dict[str, Any]:
        """The body's fields; `wire`: the messages as structs, for `encode` (not for the SDK)."""
        messages = _wire_messages(request) if wire else _messages(request)
        params: dict[str, Any] = {"model": request.model, "messages": messages}
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.top_p is not None:
            params["top_p"] = request.top_p
        if request.max_output_tokens is not None:
            params[self._max_tokens_field] = request.max_output_tokens
        return params

    async def complete(self, request: ModelRequest) -> Completion:
        with self._errors:
            return to_completion(
                await self._post("/chat/completions", encode(self._params(request, wire=True)))
            )

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | Completion]:
        chunks = self._chunks({**self._params(request), **_STREAM_FIELDS})
        with self._errors:
            # Closed also on cancellation (the client went away): the upstream request is closed.
            async with contextlib.aclosing(chunks):
                async for item in relay(chunks):
                    yield item

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        with self._errors:
            data = await self._post("/embeddings", _embeddings_body(request))
            return to_embeddings(data, len(request.texts))

    @abstractmethod
    async def _post(self, path: str, body: bytes) -> bytes:
        """The body of a successful answer to a JSON POST to `path` below the base URL."""

    @abstractmethod
    def _chunks(self, params: dict[str, Any]) -> AsyncGenerator[Any]:
        """The chunks of a streamed Chat Completion with these parameters (`stream` among them)."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release the adapter's HTTP client."""
