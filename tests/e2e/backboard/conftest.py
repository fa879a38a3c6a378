"""The official `backboard-sdk` 1.5.19 against the whole gateway on a real port (SPEC §13), and raw
HTTP against the same server for the shapes and status codes the SDK does not show."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from backboard import BackboardClient

from gateway.app import create_app
from tests.conftest import KEY_A, KEY_B, make_settings
from tests.fakes.server import serve


@contextmanager
def serve_gateway(data_dir: Path, **overrides: Any) -> Iterator[str]:
    """The whole gateway (the test backend, `echo` as the default model) on a loopback port."""
    with serve(create_app(make_settings(data_dir, **overrides)), lifespan="on") as url:
        yield url


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[str]:
    """The gateway's root URL (`base_url` of a client is this plus `/api`)."""
    with serve_gateway(tmp_path / "data") as url:
        yield url


@pytest.fixture
async def client(gateway: str) -> AsyncIterator[BackboardClient]:
    """Organization A's client, made as Backboard's documents make one, pointed at the gateway."""
    async with BackboardClient(api_key=KEY_A, base_url=f"{gateway}/api") as c:
        yield c


@pytest.fixture
async def client_b(gateway: str) -> AsyncIterator[BackboardClient]:
    async with BackboardClient(api_key=KEY_B, base_url=f"{gateway}/api") as c:
        yield c


@pytest.fixture
async def http(gateway: str) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP to the gateway as organization A (`X-API-Key`), no redirects followed."""
    async with httpx.AsyncClient(
        base_url=gateway, headers={"X-API-Key": KEY_A}, timeout=30, follow_redirects=False
    ) as c:
        yield c


@pytest.fixture
async def http_b(gateway: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=gateway, headers={"X-API-Key": KEY_B}, timeout=30, follow_redirects=False
    ) as c:
        yield c
