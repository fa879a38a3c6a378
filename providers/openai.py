"""OpenAI's own API (Chat Completions, Embeddings) through the official SDK."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import httpx2
import openai
from openai import AsyncOpenAI

from providers.errors import sdk_family
from providers.openai_wire import DEFAULT_CONTEXT_TOKENS, ChatCompletionsAdapter

# Known windows of OpenAI's models; any other model gets the default.
OPENAI_WINDOWS = {
    "gpt-4.1": 1_047_576,
    "gpt-4.1-mini": 1_047_576,
    "gpt-4.1-nano": 1_047_576,
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "o3": 200_000,
    "o4-mini": 200_000,
}

OPENAI_ERRORS = sdk_family(openai)


class OpenAIProvider(ChatCompletionsAdapter):
    """OpenAI's API, or a server behind `OPENAI_BASE_URL`. The SDK's own retries are off: retries
    and fallbacks are decided in one place (`gateway.core.calls`), so they never stack."""

    error_family = OPENAI_ERRORS

    def __init__(
        self,
        *,
        name: str = "openai",
        api_key: str,
        base_url: str | None = None,
        attempt_timeout_s: float = 60.0,
        legacy_max_tokens: bool = False,
    ) -> None:
        super().__init__(
            name, DEFAULT_CONTEXT_TOKENS, legacy_max_tokens=legacy_max_tokens, windows=OPENAI_WINDOWS
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

    async def _post(self, path: str, body: bytes) -> bytes:
        # The SDK's own client sends the request (auth, base URL, timeouts, error types), but the
        # body is encoded and the answer decoded with msgspec: `create()`'s recursive transform of
        # the parameters and its pydantic models cost more CPU than the rest of a turn together.
        response = await self._client.post(
            path,
            cast_to=httpx2.Response,
            content=body,
            options={"headers": {"Content-Type": "application/json"}},
        )
        return await response.aread()

    async def _chunks(self, params: dict[str, Any]) -> AsyncGenerator[Any]:
        async with await self._client.chat.completions.create(**params) as stream:
            async for chunk in stream:
                yield chunk

    async def aclose(self) -> None:
        await self._client.close()
