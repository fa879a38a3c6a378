"""SPEC §9: liveness, readiness (503 while the store is down or slow, 200 with a degraded cache) and
the OpenAPI document."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

import gateway.http.health as health_module
from gateway.core.rules import Limits
from gateway.errors import StoreUnavailable
from gateway.store.cache import MemoryCache
from gateway.store.sqlite.store import SqliteStore
from tests.conftest import KEY_A, KEY_B, make_settings, running, store_independent

# -- health and readiness ----------------------------------------------------------------------------


@store_independent
async def test_health_is_200_ok(client: AsyncTestClient[Any]) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_ready_names_store_and_cache_as_ok(client: AsyncTestClient[Any]) -> None:
    r = await client.get("/health/ready")
    assert r.status_code == 200, r.text
    checks = r.json()["checks"]
    assert checks["store"]["status"] == "ok"
    assert checks["cache"]["status"] == "ok"


class SwitchableStore(SqliteStore):
    """The real SQLite store whose ping can be made to fail, as when the disk goes away."""

    down = False
    hang = False

    async def ping(self) -> None:
        if self.hang:
            await asyncio.sleep(60)
        if self.down:
            raise StoreUnavailable("The thread store is unavailable.")
        await super().ping()


def _switchable(tmp_path: Path) -> tuple[Any, SwitchableStore]:
    settings = make_settings(tmp_path)
    store = SwitchableStore(str(tmp_path / "gateway.sqlite3"), Limits.from_settings(settings))
    return settings, store


async def test_ready_is_503_while_the_store_is_down_and_recovers(tmp_path: Path) -> None:
    settings, store = _switchable(tmp_path)
    async with running(settings, store=store) as client:
        assert (await client.get("/health/ready")).status_code == 200
        store.down = True
        r = await client.get("/health/ready")
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["checks"]["store"]["status"] != "ok"
        assert body["checks"]["cache"]["status"] == "ok"
        assert r.headers["x-request-id"]
        # Liveness does not depend on the store.
        assert (await client.get("/health")).status_code == 200
        store.down = False
        assert (await client.get("/health/ready")).status_code == 200


async def test_ready_is_503_when_the_store_does_not_answer_in_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health_module, "READY_TIMEOUT_S", 0.2)
    settings, store = _switchable(tmp_path)
    async with running(settings, store=store) as client:
        store.hang = True
        r = await client.get("/health/ready")
        assert r.status_code == 503, r.text
        assert r.json()["checks"]["store"]["status"] != "ok"


class DegradedCache(MemoryCache):
    async def status(self) -> str:
        raise ConnectionError("redis is down")


async def test_ready_stays_200_with_a_degraded_cache(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path), cache=DegradedCache()) as client:
        r = await client.get("/health/ready")
        assert r.status_code == 200, r.text
        checks = r.json()["checks"]
        assert checks["store"]["status"] == "ok"
        assert checks["cache"]["status"] == "degraded"
        assert "redis is down" not in r.text


# -- OpenAPI -----------------------------------------------------------------------------------------


@store_independent
async def test_openapi_document_lists_the_v1_paths(client: AsyncTestClient[Any]) -> None:
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path, methods in {
        "/v1/model/response": {"post"},
        "/v1/threads": {"get", "post"},
        "/v1/threads/{thread_id}": {"get", "patch", "delete"},
        "/v1/threads/{thread_id}/messages": {"get"},
    }.items():
        assert path in paths, sorted(paths)
        assert methods <= set(paths[path]), (path, sorted(paths[path]))
    assert KEY_A not in r.text and KEY_B not in r.text
