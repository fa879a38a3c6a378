"""Memory (SPEC §12) through the whole gateway on a real port: the fake OpenAI upstream as the turns'
model (it records what the model was given), the local embedding model, the job runner of the app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from backboard import BackboardClient

from tests.conftest import KEY_A, KEY_B
from tests.e2e.backboard.conftest import serve_gateway
from tests.fakes.server import serve
from tests.fakes.upstream import FakeUpstream


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    upstream = FakeUpstream()
    with serve(upstream) as url:
        upstream.url = url  # type: ignore[attr-defined]
        yield upstream


@pytest.fixture
def gateway(tmp_path: Path, fake: FakeUpstream) -> Iterator[str]:
    url = fake.url  # type: ignore[attr-defined]
    with serve_gateway(
        tmp_path / "data",
        openai_api_key="sk-test",
        openai_base_url=f"{url}/v1",
        default_model="openai/gpt-4o",
    ) as gw:
        yield gw


@pytest.fixture
async def bb(gateway: str) -> AsyncIterator[BackboardClient]:
    async with BackboardClient(api_key=KEY_A, base_url=f"{gateway}/api") as c:
        yield c


@pytest.fixture
async def http(gateway: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway, headers={"X-API-Key": KEY_A}, timeout=30) as c:
        yield c


@pytest.fixture
async def http_b(gateway: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway, headers={"X-API-Key": KEY_B}, timeout=30) as c:
        yield c


async def settled(http: httpx.AsyncClient, path: str, timeout_s: float = 30.0) -> dict[str, Any]:
    """The operation at `path` once it is COMPLETED or FAILED."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        body: dict[str, Any] = (await http.get(path)).json()
        if body.get("status") in ("COMPLETED", "FAILED") or loop.time() > deadline:
            return body
        await asyncio.sleep(0.05)


def system_texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in messages if m["role"] == "system"]
