"""An OpenAI-compatible server of the config file's `[endpoints]` (vLLM, Ollama, LM Studio, a local
proxy) over the direct client (`providers.direct`: aiohttp, msgspec, no SDK)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Any

from providers.direct import DirectClient
from providers.errors import HTTP_ERRORS
from providers.openai_wire import DEFAULT_CONTEXT_TOKENS, ChatCompletionsAdapter, Chunk, decode_chunk, encode


class OpenAICompatibleProvider(ChatCompletionsAdapter):
    """One endpoint: the same requests and answers as `OpenAIProvider`, the same adapter errors."""

    error_family = HTTP_ERRORS

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        api_key: str,
        attempt_timeout_s: float = 60.0,
        default_context_tokens: int = DEFAULT_CONTEXT_TOKENS,
        legacy_max_tokens: bool = True,
    ) -> None:
        super().__init__(name, default_context_tokens, legacy_max_tokens=legacy_max_tokens)
        self._client = DirectClient(base_url=base_url, api_key=api_key, timeout_s=attempt_timeout_s)

    async def _post(self, path: str, body: bytes) -> bytes:
        return await self._client.post(path, body)

    async def _chunks(self, params: dict[str, Any]) -> AsyncGenerator[Chunk]:
        events = self._client.events("/chat/completions", encode(params))
        # `aclosing`: leaving early closes the upstream connection at once, not when collected.
        async with contextlib.aclosing(events):
            async for data in events:
                if data == b"[DONE]":
                    return
                yield decode_chunk(data)

    async def aclose(self) -> None:
        await self._client.aclose()
