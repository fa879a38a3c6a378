"""Retention in the background (SPEC §6); the same rules are also checked on every read."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from gateway.store.protocols import Backend

_log = structlog.get_logger("gateway")


async def purge_loop(store: Backend, interval_s: float, clock: Callable[[], int]) -> None:
    """Purge what expired every `interval_s`, until cancelled."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            report = await store.purge_expired(clock())
        except Exception:  # noqa: BLE001 - a failed round is retried at the next interval
            _log.warning("purge_failed", exc_info=True)
            continue
        if report.threads or report.responses or report.tombstones:
            _log.info(
                "purged", threads=report.threads, responses=report.responses, tombstones=report.tombstones
            )
