"""/health (the process runs) and /health/ready (the store answers; the cache may be degraded)."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency

from gateway.core.services import Services

READY_TIMEOUT_S = 2.0


@get("/health", summary="Liveness")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/health/ready", summary="Readiness: store and cache")
async def ready(services: NamedDependency[Services]) -> Response[dict[str, Any]]:
    store = services.store
    checks: dict[str, dict[str, str]] = {}
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            await store.ping()
        checks["store"] = {"status": "ok", "backend": store.name}
    except Exception:  # noqa: BLE001 - any failure of the store means "not ready"
        checks["store"] = {"status": "down", "backend": store.name}
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            cache_status = await store.cache_status()
    except Exception:  # noqa: BLE001 - a cache failure only degrades
        cache_status = "degraded"
    checks["cache"] = {"status": cache_status, "backend": store.cache_name}
    is_ready = checks["store"]["status"] == "ok"
    body = {"status": "ready" if is_ready else "unavailable", "checks": checks}
    return Response(body, status_code=200 if is_ready else 503)
