"""The official `aitronos-sdk` 5.0.0 (`Aitronos`, `AsyncAitronos`) against the real app on a real port
(SPEC §10).

Every test that takes `sdk` (or `upstream_sdk`) runs twice, with the sync and with the async client;
`tests.e2e.sdk.helpers.call` lets one test body await the async client's coroutines and take the sync
client's results as they are.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gateway.app import create_app
from tests.conftest import make_settings
from tests.e2e.sdk.helpers import Client, connect
from tests.fakes.server import serve
from tests.fakes.upstream import FakeUpstream


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[str]:
    """The whole gateway (embedded store, `echo` model) served on a loopback port: its base URL."""
    with serve(create_app(make_settings(tmp_path / "data")), lifespan="on") as url:
        yield url


@pytest.fixture(params=["sync", "async"])
async def sdk(request: pytest.FixtureRequest, gateway: str) -> AsyncIterator[Client]:
    async with connect(request.param, gateway) as client:
        yield client


@pytest.fixture
def upstream() -> Iterator[tuple[FakeUpstream, str]]:
    """An OpenAI-compatible fake model server, scripted by the test, and its base URL."""
    fake = FakeUpstream()
    with serve(fake) as url:
        yield fake, url


@pytest.fixture
def upstream_gateway(tmp_path: Path, upstream: tuple[FakeUpstream, str]) -> Iterator[str]:
    """A gateway whose config file names the fake as the endpoint `slow` (models `slow/<name>`)."""
    config = tmp_path / "providers.toml"
    config.write_text(f'[endpoints.slow]\nbase_url = "{upstream[1]}/v1"\nlegacy_max_tokens = true\n')
    settings = make_settings(tmp_path / "data", config_file=str(config))
    with serve(create_app(settings), lifespan="on") as url:
        yield url


@pytest.fixture(params=["sync", "async"])
async def upstream_sdk(request: pytest.FixtureRequest, upstream_gateway: str) -> AsyncIterator[Client]:
    async with connect(request.param, upstream_gateway) as client:
        yield client
