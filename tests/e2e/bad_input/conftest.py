"""The malformed-input tests share one app for the whole package (building one per case would dominate
the run time); each test compares the organization's threads before and after instead of expecting an
empty store. Their modules run in the package's event loop (`loop_scope="package"`), the app's loop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.conftest import KEY_A, Api, make_settings, ok, running


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def a(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    async with running(make_settings(tmp_path_factory.mktemp("bad_input"))) as client:
        api = Api(client, KEY_A)
        ok(await api.say("exists", thread="a"))  # a real neighbour that odd paths must not reach
        yield api
