"""aitronos-freddy 0.1.2 (`FreddyClient`, `AsyncFreddyClient`) against a gateway process (SPEC §10).

This environment pins the SDK's `httpx<0.26` and cannot import the gateway: one gateway for the
session runs as `python -m gateway` with the main project's interpreter (`GATEWAY_PYTHON`), with the
built-in `echo` model and a recording OpenAI-compatible endpoint `slow` (models `slow/<name>`).
Every test that takes `freddy` runs with the sync and with the async client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from gateway_process import Gateway, Upstream, running_gateway
from helpers import Client, connect


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    with Upstream() as fake:
        yield fake


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> Iterator[Gateway]:
    workdir = tmp_path_factory.mktemp("gateway")
    config = workdir / "providers.toml"
    config.write_text(f'[endpoints.slow]\nbase_url = "{upstream.url}/v1"\nlegacy_max_tokens = true\n')
    with running_gateway(workdir, {"GATEWAY_CONFIG_FILE": str(config)}) as running:
        yield running


@pytest.fixture(params=["sync", "async"])
async def freddy(request: pytest.FixtureRequest, gateway: Gateway) -> AsyncIterator[Client]:
    async with connect(request.param, gateway.url) as client:
        yield client
