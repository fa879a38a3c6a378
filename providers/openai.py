"""OpenAI Chat Completions through the official SDK; also any OpenAI-compatible server
(vLLM, Ollama, LM Studio, ...) through a base URL from server configuration."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import msgspec
import openai
from openai import AsyncOpenAI

from providers.base import ChatMessage, Completion, ModelRequest, TextDelta
from providers.direct import DirectClient, decode_or_fail
from providers.errors import (
    ProviderError,
    map_sdk_error,
    upstream_errors,
)

DEFAULT_CONTEXT_TOKENS = 128_000
# Known windows; anything else gets the default (or the configured value).
_WINDOWS = {
    "gpt-4.1": 1_047_576,
    "gpt-4.1-mini": 1_047_576,
    "gpt-4.1-nano": 1_047_576,
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "o3": 200_000,
    "o4-mini": 200_000,
}


def map_error(name: str, exc: Exception) -> ProviderError:
    return map_sdk_error(name, exc, openai)


_UPSTREAM_ERRORS = upstream_errors(openai)


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


class _Chunk(msgspec.Struct):
    """One event of a streamed Chat Completion: a delta, or the last one's usage."""

    choices: list[_ChunkChoice] = msgspec.field(default_factory=list)
    usage: _Usage | None = None


_encode = msgspec.json.Encoder().encode
_completion_decoder = msgspec.json.Decoder(_ChatCompletion)
_decode_completion = _completion_decoder.decode
_chunk_decoder = msgspec.json.Decoder(_Chunk)


def _messages(request: ModelRequest) -> list[dict[str, Any]]:
    return [
        {
            "role": m.role,
            "content": m.texts[0] if len(m.texts) == 1 else [{"type": "text", "text": t} for t in m.texts],
        }
        for m in request.messages
    ]


class OpenAIProvider:
    """One OpenAI-compatible endpoint. The SDK's own retries are off: retries and fallbacks are
    decided in one place (`gateway.calls`), so they never stack.

    `direct`: calls go through `providers.direct` (aiohttp and msgspec only) instead of the SDK;
    used for the config file's endpoints. Both send the same requests and raise the same errors.
    """

    def __init__(
        self,
        *,
        name: str = "openai",
        api_key: str,
        base_url: str | None = None,
        attempt_timeout_s: float = 60.0,
        context_tokens: dict[str, int] | None = None,
        default_context_tokens: int = DEFAULT_CONTEXT_TOKENS,
        legacy_max_tokens: bool = False,
        direct: bool = False,
    ) -> None:
        self.name = name
        self._direct = (
            DirectClient(
                name=name,
                base_url=base_url or "https://api.openai.com/v1",
                api_key=api_key,
                timeout_s=attempt_timeout_s,
            )
            if direct
            else None
        )
        # aiohttp as the SDK's transport: httpx's connection pool costs several times more CPU per
        # request at gateway concurrency (it scans every pooled connection on each request).
        self._client = AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=attempt_timeout_s,
            http_client=openai.DefaultAioHttpClient(timeout=attempt_timeout_s),
        )
        self._windows = {**_WINDOWS, **(context_tokens or {})}
        self._default_window = default_context_tokens
        # OpenAI's own API wants `max_completion_tokens`; most compatible servers know `max_tokens`.
        self._max_tokens_field = "max_tokens" if legacy_max_tokens else "max_completion_tokens"

    def context_window(self, model: str) -> int:
        return self._windows.get(model, self._default_window)

    def count_tokens(self, message: ChatMessage) -> int:
        # An estimate (about four characters a token, plus the message's framing), used only to
        # fit the history; `usage` always comes from the provider's own counts.
        return math.ceil(message.chars / 4) + 4

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {"model": request.model, "messages": _messages(request)}
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.top_p is not None:
            params["top_p"] = request.top_p
        if request.max_output_tokens is not None:
            params[self._max_tokens_field] = request.max_output_tokens
        return params

    async def complete(self, request: ModelRequest) -> Completion:
        if self._direct is not None:
            data = await self._direct.post("/chat/completions", _encode(self._params(request)))
            return _completion(decode_or_fail(self.name, _completion_decoder, data))
        # The SDK's own client sends the request (auth, base URL, timeouts, error types), but the body
        # is encoded and the answer decoded with msgspec: `create()`'s recursive transform of the
        # parameters and its pydantic models cost more CPU than the rest of a turn together.
        try:
            response = await self._client.post(
                "/chat/completions",
                cast_to=httpx2.Response,
                content=_encode(self._params(request)),
                options={"headers": {"Content-Type": "application/json"}},
            )
            result = _decode_completion(await response.aread())
        except _UPSTREAM_ERRORS as exc:
            raise map_error(self.name, exc) from None
        return _completion(result)

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | Completion]:
        if self._direct is not None:
            async for item in self._stream_direct(request):
                yield item
            return
        try:
            stream = await self._client.chat.completions.create(
                **self._params(request), stream=True, stream_options={"include_usage": True}
            )
            try:
                async for item in _relay(stream):
                    yield item
            finally:
                # Also on cancellation (the client went away): the upstream request is closed.
                await stream.close()
        except ProviderError:
            raise
        except _UPSTREAM_ERRORS as exc:
            raise map_error(self.name, exc) from None

    async def _stream_direct(self, request: ModelRequest) -> AsyncIterator[TextDelta | Completion]:
        assert self._direct is not None
        body = _encode({**self._params(request), "stream": True, "stream_options": {"include_usage": True}})
        events = self._direct.events("/chat/completions", body)

        async def chunks() -> AsyncIterator[_Chunk]:
            async for data in events:
                if data == b"[DONE]":
                    return
                yield decode_or_fail(self.name, _chunk_decoder, data)

        try:
            async for item in _relay(chunks()):
                yield item
        finally:
            # Also on cancellation (the client went away): the upstream request is closed.
            await events.aclose()

    async def aclose(self) -> None:
        if self._direct is not None:
            await self._direct.aclose()
        await self._client.close()


async def _relay(chunks: AsyncIterator[Any]) -> AsyncIterator[TextDelta | Completion]:
    """Chat Completion chunks (the SDK's models or `_Chunk`: the same fields) as deltas, then the
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


def _completion(result: _ChatCompletion) -> Completion:
    text = (result.choices[0].message.content or "") if result.choices else ""
    usage = result.usage
    return Completion(
        text=text,
        input_tokens=usage.prompt_tokens if usage else 0,
        output_tokens=usage.completion_tokens if usage else 0,
    )
