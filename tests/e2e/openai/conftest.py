"""The official `openai` SDK against the whole gateway on a real port (SPEC §14).

Every test that takes `client` (or `client_b`) runs twice, with `OpenAI` and with `AsyncOpenAI`;
`tests.e2e.openai.helpers.call` lets one test body await the async client's coroutines and take
the sync client's results as they are. `http` is raw HTTP to the same server, for the shapes and
headers the SDK does not show.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from tests.conftest import KEY_A, KEY_B, make_settings
from tests.e2e.openai.helpers import Client, connect
from tests.fakes.server import serve


@contextmanager
def serve_gateway(data_dir: Path, **overrides: Any) -> Iterator[str]:
    """The whole gateway (the test backend, `echo` as the default model) on a loopback port."""
    with serve(create_app(make_settings(data_dir, **overrides)), lifespan="on") as url:
        yield url


@pytest.fixture(scope="package")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The gateway's root URL (a client's `base_url` is this plus `/v1`), one for the package:
    tests keep apart by their objects' ids and compare lists before and after."""
    with serve_gateway(tmp_path_factory.mktemp("openai") / "data") as url:
        yield url


@pytest.fixture(params=["sync", "async"])
async def client(request: pytest.FixtureRequest, gateway: str) -> AsyncIterator[Client]:
    """Organization A's client, made as OpenAI's documents make one, pointed at the gateway."""
    async with connect(request.param, gateway, KEY_A) as c:
        yield c


@pytest.fixture
async def client_b(client: Client, gateway: str) -> AsyncIterator[Client]:
    """Organization B's client, of the same kind as `client`."""
    async with connect(
        "async" if client.__class__.__name__.startswith("Async") else "sync", gateway, KEY_B
    ) as c:
        yield c


@pytest.fixture
async def http(gateway: str) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP to the gateway as organization A (`Authorization: Bearer`, as the SDK sends it)."""
    async with httpx.AsyncClient(
        base_url=gateway, headers={"Authorization": f"Bearer {KEY_A}"}, timeout=30
    ) as c:
        yield c


@pytest.fixture
async def http_b(gateway: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=gateway, headers={"Authorization": f"Bearer {KEY_B}"}, timeout=30
    ) as c:
        yield c
