"""Anthropic Messages through the official SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
from anthropic import AsyncAnthropic

from providers.base import (
    ChatMessage,
    Completion,
    EmbeddingRequest,
    Embeddings,
    ModelRequest,
    TextDelta,
    estimate_tokens,
)
from providers.errors import EmbeddingsUnsupported, UpstreamErrors, sdk_family

DEFAULT_CONTEXT_TOKENS = 200_000
DEFAULT_MAX_TOKENS = 4096
# Anthropic requires the conversation to start with a user turn.
OPENING = "(The conversation so far follows.)"

ANTHROPIC_ERRORS = sdk_family(anthropic)


def to_messages(request: ModelRequest) -> tuple[str | None, list[dict[str, Any]]]:
    """System messages become the system prompt; consecutive same-role messages are merged."""
    system = [t for m in request.messages if m.role == "system" for t in m.texts]
    turns: list[dict[str, Any]] = []
    for m in request.messages:
        if m.role == "system":
            continue
        blocks = [{"type": "text", "text": t} for t in m.texts]
        if turns and turns[-1]["role"] == m.role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": m.role, "content": blocks})
    if turns and turns[0]["role"] == "assistant":
        turns.insert(0, {"role": "user", "content": [{"type": "text", "text": OPENING}]})
    return ("\n\n".join(system) if system else None), turns


class AnthropicProvider:
    """Anthropic's Messages API. SDK retries are off (see `gateway.core.calls`)."""

    def __init__(
        self,
        *,
        name: str = "anthropic",
        api_key: str,
        base_url: str | None = None,
        attempt_timeout_s: float = 60.0,
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> None:
        self.name = name
        self._errors = UpstreamErrors(name, ANTHROPIC_ERRORS)
        # aiohttp as the SDK's transport, as for OpenAI (see providers/openai.py).
        self._client = AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=attempt_timeout_s,
            http_client=anthropic.DefaultAioHttpClient(timeout=attempt_timeout_s),
        )
        self._max_tokens = default_max_tokens

    def context_window(self, model: str) -> int:
        return DEFAULT_CONTEXT_TOKENS

    token_framing = 4  # `count_tokens` is `estimate_tokens` with it (the budget inlines it)

    def count_tokens(self, message: ChatMessage) -> int:
        return estimate_tokens(message, self.token_framing)

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        system, messages = to_messages(request)
        params: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "max_tokens": request.max_output_tokens or self._max_tokens,
        }
        if system is not None:
            params["system"] = system
        # This SDK's `messages.create` has no sampling keywords any more (a TypeError before any
        # request left); they are still the caller's to set, so they travel as body fields and the
        # upstream decides.
        sampling: dict[str, float] = {}
        if request.temperature is not None:
            # Anthropic's range is 0..1; the gateway's is OpenAI's 0..2.
            sampling["temperature"] = min(request.temperature, 1.0)
        if request.top_p is not None:
            sampling["top_p"] = request.top_p
        if sampling:
            params["extra_body"] = sampling
        return params

    async def complete(self, request: ModelRequest) -> Completion:
        with self._errors:
            result = await self._client.messages.create(**self._params(request))
        text = "".join(block.text for block in result.content if block.type == "text")
        return Completion(
            text=text, input_tokens=result.usage.input_tokens, output_tokens=result.usage.output_tokens
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | Completion]:
        parts: list[str] = []
        input_tokens = output_tokens = 0
        with self._errors:
            # Closed also on cancellation (the client went away): the upstream request is closed.
            async with await self._client.messages.create(**self._params(request), stream=True) as stream:
                async for event in stream:
                    if event.type == "message_start":
                        input_tokens = event.message.usage.input_tokens
                        output_tokens = event.message.usage.output_tokens
                    elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                        parts.append(event.delta.text)
                        yield TextDelta(event.delta.text)
                    elif event.type == "message_delta":
                        output_tokens = event.usage.output_tokens
        yield Completion(text="".join(parts), input_tokens=input_tokens, output_tokens=output_tokens)

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        """Always `EmbeddingsUnsupported`: Anthropic has no embeddings API."""
        raise EmbeddingsUnsupported(self.name)

    async def aclose(self) -> None:
        await self._client.close()
