"""Fixtures of the provider suite: the fake upstreams and one gateway behind uvicorn on a real
socket, both built once for the whole package."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio

from gateway.app import create_app
from tests.conftest import KEY_A, Api
from tests.fakes.server import serve
from tests.integration.providers.helpers import LOCAL_KEY, LOCAL_KEY_ENV, Upstreams, settings_for


@pytest.fixture(scope="package")
def upstreams() -> Iterator[Upstreams]:
    ups = Upstreams()
    with serve(ups["openai"]) as o, serve(ups["anthropic"]) as a, serve(ups["local"]) as loc:
        ups.urls = {"openai": o, "anthropic": a, "local": loc}
        yield ups


@pytest.fixture
def up(upstreams: Upstreams, monkeypatch: pytest.MonkeyPatch) -> Upstreams:
    upstreams.reset()
    monkeypatch.setenv(LOCAL_KEY_ENV, LOCAL_KEY)
    return upstreams


# One gateway serves most of the package, behind uvicorn on a real socket (the SDK clients and the app
# cost more to build than most tests take); tests isolate themselves by thread ids and by resetting
# the fakes. Tests that need other settings build their own app. Every module of the package runs in
# the package's event loop (`pytestmark = pytest.mark.asyncio(loop_scope="package")`), that of `http`.
@pytest.fixture(scope="package")
def gateway_url(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv(LOCAL_KEY_ENV, LOCAL_KEY)  # read when the adapters are built
        app = create_app(settings_for(tmp_path_factory.mktemp("gateway"), upstreams))
    with serve(app, lifespan="on") as url:
        yield url


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def http(gateway_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        yield client


@pytest.fixture
def api(http: httpx.AsyncClient, up: Upstreams) -> Api:
    return Api(http, KEY_A)  # type: ignore[arg-type]  # Api only needs `request`
