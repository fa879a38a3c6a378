"""The application factory: wiring only, no import-time side effects."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import structlog
from litestar import Litestar, Router
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from gateway.api.auth import KeyRing, authenticate
from gateway.api.context import RequestContextMiddleware, before_send
from gateway.api.errors import handle_exception
from gateway.api.fast import FastTurns, is_fast
from gateway.api.health import health, ready
from gateway.api.responses import create_response
from gateway.api.services import Services
from gateway.api.threads import ThreadController
from gateway.calls import CallPolicy
from gateway.logs import configure_logging
from gateway.settings import Settings, load_settings
from gateway.store.base import Store
from gateway.store.cache import MemoryCache, NullCache, ResponseCache
from gateway.store.mongo import MongoStore
from gateway.store.redis_cache import RedisCache
from gateway.store.sqlite import SqliteStore
from gateway.threads import Limits, now_us
from gateway.turns import TurnService
from providers.base import Provider
from providers.config import ProviderConfig, load_config
from providers.registry import KNOWN_PROVIDERS, Registry
from providers.table import build_providers

_log = structlog.get_logger("gateway")


class Gateway(Litestar):
    """The Litestar app, with the everyday turn answered by `gateway.api.fast` in front of it."""

    fast: FastTurns | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.fast is not None and is_fast(scope):
            await self.fast(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def default_store(settings: Settings, limits: Limits) -> Store:
    if settings.mongodb_uri:
        return MongoStore(
            settings.mongodb_uri,
            limits,
            database=settings.mongodb_database,
            timeout_s=settings.mongodb_timeout_s,
            pool_size=settings.mongodb_pool_size,
            transactions=settings.mongodb_transactions,
        )
    return SqliteStore(
        os.path.join(settings.data_dir, "gateway.sqlite3"),
        limits,
        busy_timeout_s=settings.sqlite_busy_timeout_s,
    )


def default_cache(settings: Settings) -> ResponseCache:
    if settings.redis_url:
        return RedisCache(
            settings.redis_url,
            timeout_s=settings.redis_timeout_s,
            retries=settings.redis_retries,
            pool_size=settings.redis_pool_size,
        )
    # Processes cannot tell each other of a deletion, so an in-process copy is kept only when this
    # process is the store's one user: one worker on the embedded store.
    if settings.workers == 1 and not settings.mongodb_uri:
        return MemoryCache(settings.response_cache_size)
    return NullCache()


async def _purge_loop(
    store: Store, cache: ResponseCache, interval_s: float, clock: Callable[[], int]
) -> None:
    """Retention in the background (SPEC §6); the same rules are also checked on every read."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            report = await store.purge_expired(clock())
        except Exception:  # noqa: BLE001 - a failed round is retried at the next interval
            _log.warning("purge_failed", exc_info=True)
            continue
        by_org: dict[str, list[str]] = {}
        for org, rid in report.response_ids:
            by_org.setdefault(org, []).append(rid)
        for org, ids in by_org.items():
            await cache.forget(org, ids)
        if report.threads or report.responses or report.tombstones:
            _log.info(
                "purged", threads=report.threads, responses=report.responses, tombstones=report.tombstones
            )


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    providers: Mapping[str, Provider] | None = None,
    cache: ResponseCache | None = None,
    aliases: Mapping[str, str] | None = None,
    config: ProviderConfig | None = None,
    clock: Callable[[], int] = now_us,
) -> Litestar:
    """Build the gateway. Tests pass their own store, providers, cache, config or clock."""
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    limits = Limits.from_settings(settings)
    config = config or load_config(settings.config_file)
    the_store = store or default_store(settings, limits)
    the_cache = cache or default_cache(settings)
    # The app closes only the adapters it made; adapters passed in belong to the caller.
    owned = build_providers(settings.provider_settings(), config) if providers is None else {}
    registry = Registry(
        providers if providers is not None else owned,
        aliases={**config.aliases, **(aliases or {})},
        fallbacks=config.fallbacks,
        known=KNOWN_PROVIDERS | frozenset(config.endpoints),
    )
    policy = CallPolicy(total_timeout_s=settings.provider_timeout_s, attempts=settings.provider_attempts)
    turns = TurnService(the_store, the_cache, registry, limits, policy=policy, clock=clock)

    services = Services(store=the_store, cache=the_cache, limits=limits, turns=turns, clock=clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await the_store.open()
        purger = asyncio.create_task(_purge_loop(the_store, the_cache, settings.purge_interval_s, clock))
        try:
            yield
        finally:
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
            await the_cache.close()
            await the_store.close()
            for adapter in owned.values():
                await adapter.aclose()

    v1 = Router(path="/v1", route_handlers=[ThreadController, create_response], guards=[authenticate])
    app = Gateway(
        route_handlers=[health, ready, v1],
        dependencies={"services": Provide(lambda: services, use_cache=True, sync_to_thread=False)},
        lifespan=[lifespan],
        middleware=[RequestContextMiddleware],
        before_send=[before_send],
        exception_handlers={Exception: handle_exception},
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(title="Thread gateway", version="0.1.0", path="/schema"),
        logging_config=None,
    )
    keyring = KeyRing(settings.api_keys)
    app.state.keyring = keyring
    app.state.settings = settings
    app.state.services = services
    app.fast = FastTurns(
        functools.partial(Litestar.__call__, app),
        services=services,
        keyring=keyring,
        max_body_bytes=settings.max_body_bytes,
    )
    return app


def create_app_from_env() -> Litestar:
    """Entry point for the ASGI server (`--factory`), run once in each worker process."""
    import gc
    import sys

    # The store's threads hand results back to the event loop many times a second; with the default
    # 5 ms GIL switch interval each hand-off can wait that long behind busy request code.
    sys.setswitchinterval(float(os.environ.get("GATEWAY_SWITCH_INTERVAL_S", "0.0005")))
    app = create_app(load_settings())
    # Everything made so far (modules, the app) lives as long as the process: moved out of the
    # collector's reach, so that its full collections, the source of the worst pauses, do not
    # walk it again and again.
    gc.collect()
    gc.freeze()
    return app
