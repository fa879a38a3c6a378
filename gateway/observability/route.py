"""`GET /metrics` (SPEC §15): the Prometheus text, no key (bind it to a private network)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog
from litestar import Response, get
from litestar.handlers import HTTPRouteHandler

from gateway.observability.metrics import CONTENT_TYPE, Metrics
from gateway.store.jobs import JobStore

# The job queue's figures are read from the store at each scrape; a store slower than this leaves
# them out of that scrape rather than holding it.
BACKLOG_TIMEOUT_S = 2.0

_log = structlog.get_logger("gateway.metrics")


def metrics_route(metrics: Metrics, jobs: JobStore, clock: Callable[[], int]) -> HTTPRouteHandler:
    """The handler of `/metrics` for `metrics`, with the queue of `jobs` read at each scrape."""

    @get("/metrics", include_in_schema=False, cache=False)
    async def scrape() -> Response[bytes]:
        try:
            async with asyncio.timeout(BACKLOG_TIMEOUT_S):
                backlog = await jobs.backlog(metrics.backlog.kinds)
        except Exception:  # noqa: BLE001 - the counters are still worth answering
            _log.warning("metrics_backlog_failed", exc_info=True)
            metrics.backlog.update(None)
        else:
            now = clock()
            metrics.backlog.update(
                {kind: (b.count, max(now - b.oldest_us, 0) / 1_000_000) for kind, b in backlog.items()}
            )
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    return scrape
