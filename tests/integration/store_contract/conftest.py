"""The backends of the store contract: the `store` fixture is parametrized over every one of them,
so that each implementation passes every test of this package."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.store import MongoStore
from gateway.store.protocols import Backend
from gateway.store.sqlite.store import SqliteStore
from tests.integration.store_contract.helpers import LIMITS
from tests.services import mongo_uri


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Backend]:
    s = SqliteStore(str(tmp_path / "db" / "gateway.sqlite3"), LIMITS)
    await s.open()
    yield s
    await s.close()


@pytest.fixture
async def mongo_store() -> AsyncIterator[Backend]:
    # "auto": the versioned scheme alone on mongoeco's server (a standalone server), and inside
    # transactions on a real replica set given by GATEWAY_TEST_MONGODB_URI.
    async with mongo_uri() as uri:
        # mongoeco is slow on large writes (a turn of 300 messages takes seconds): a roomy bound.
        s = MongoStore(MongoDatabase(uri, LIMITS, database=f"gw_{uuid.uuid4().hex[:8]}", timeout_s=30))
        await s.open()
        yield s
        await s.close()


@pytest.fixture(params=["sqlite_store", "mongo_store"])
def store(request: pytest.FixtureRequest) -> Backend:
    """Every backend, one after the other: each must pass every test of this package."""
    backend: Backend = request.getfixturevalue(request.param)
    return backend
