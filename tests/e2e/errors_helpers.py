"""Shared helpers of the error and log tests: a provider that fails like a bug (not an upstream
error) with a detail that must never reach a caller, and a turn sent with a chosen X-Request-ID."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from providers.base import ChatMessage, Completion, ModelRequest, TextDelta
from tests.conftest import Api, user

SECRET_DETAIL = "kaboom-internal-detail-7f3a"


class BrokenProvider:
    """A provider that fails in a way no adapter error describes (a bug, not an upstream error)."""

    name = "echo"

    def context_window(self, model: str) -> int:
        return 32_768

    def count_tokens(self, message: ChatMessage) -> int:
        return 1

    async def complete(self, request: ModelRequest) -> Completion:
        raise RuntimeError(SECRET_DETAIL)

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | Completion]:
        yield TextDelta("partial ")
        raise RuntimeError(SECRET_DETAIL)


async def say(api: Api, text: str, rid: str, **fields: Any) -> httpx.Response:
    """A turn sent with a chosen X-Request-ID."""
    body = {"model": "echo", "inputs": [user(text)], **fields}
    return await api.post("/v1/model/response", json=body, headers={"X-Request-ID": rid})
