"""The application factory: wiring only, no import-time side effects."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from typing import cast

from litestar import Litestar
from litestar.di import Provide

from gateway.core.assistants import AssistantService
from gateway.core.calls import Caller, CallPolicy
from gateway.core.embedder import embedder
from gateway.core.items import ItemService
from gateway.core.jobs import Handler, JobRunner, RunnerSettings
from gateway.core.memory import WRITE_KIND, MemoryService, MemorySettings
from gateway.core.memory_writer import MemoryWriter
from gateway.core.retention import purge_loop
from gateway.core.rules import Limits, now_us
from gateway.core.services import Services
from gateway.core.shutdown import Shutdown
from gateway.core.summaries import SUMMARY_KIND, Summaries, SummarySettings
from gateway.core.summary_writer import SummaryWriter
from gateway.core.threads import ThreadService
from gateway.core.turns import TurnService
from gateway.doors.backboard.docs import BACKBOARD_DOCS
from gateway.doors.backboard.door import backboard_door
from gateway.doors.freddy.docs import FREDDY_DOCS
from gateway.doors.freddy.door import freddy_door
from gateway.doors.freddy.errors import handle_exception
from gateway.doors.openai.docs import OPENAI_DOCS
from gateway.doors.openai.door import openai_door
from gateway.http.admin import ADMIN_DOCS, admin_routes
from gateway.http.asgi import Gateway
from gateway.http.auth import KeyRing, rate_limit_headers
from gateway.http.body import StrictRequest
from gateway.http.context import RequestContextMiddleware, before_send
from gateway.http.docs_site import openapi_config
from gateway.http.envelopes import by_path_prefix
from gateway.http.health import health, ready
from gateway.http.openapi import refine_lazily
from gateway.logs import configure_logging
from gateway.observability.metrics import Metrics, publish, publish_every
from gateway.observability.probe import Probe
from gateway.observability.route import metrics_route
from gateway.observability.tracing import tracing_from
from gateway.ratelimit import Counters, Limiter, RedisCounters
from gateway.settings import Settings, load_settings
from gateway.store.cache import MemoryCache, NullCache, ResponseCache
from gateway.store.cached import CachedStore
from gateway.store.locks import TurnLocks
from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.store import MongoStore
from gateway.store.protocols import Backend
from gateway.store.redis_cache import RedisCache
from gateway.store.sqlite.store import SqliteStore
from providers.base import Provider
from providers.config import ProviderConfig, load_config
from providers.local_embed import Precision
from providers.registry import KNOWN_PROVIDERS, Registry
from providers.table import build_providers


def default_store(settings: Settings, limits: Limits) -> Backend:
    if settings.mongodb_uri:
        return MongoStore(
            MongoDatabase(
                settings.mongodb_uri,
                limits,
                database=settings.mongodb_database,
                timeout_s=settings.mongodb_timeout_s,
                pool_size=settings.mongodb_pool_size,
                transactions=settings.mongodb_transactions,
            )
        )
    return SqliteStore(
        os.path.join(settings.data_dir, "gateway.sqlite3"),
        limits,
        busy_timeout_s=settings.sqlite_busy_timeout_s,
        history_cache_bytes=int(settings.history_cache_mb * 1024 * 1024),
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


def default_limiter(settings: Settings, backend: Backend) -> Limiter | None:
    """The per-key rate limits (SPEC §15), counted in Redis when configured, else in the store;
    None when no limit is set."""
    if settings.rate_limit_rpm is None and settings.rate_limit_tpm is None:
        return None
    counters: Counters | None
    if settings.redis_url:
        counters = RedisCounters(
            settings.redis_url, timeout_s=settings.redis_timeout_s, pool_size=settings.redis_pool_size
        )
    else:
        counters = getattr(backend, "rate_limits", None)
    if counters is None:
        raise ValueError(f"the {backend.name} store keeps no rate-limit counters")
    return Limiter(counters, rpm=settings.rate_limit_rpm, tpm=settings.rate_limit_tpm)


def create_app(
    settings: Settings | None = None,
    *,
    store: Backend | None = None,
    providers: Mapping[str, Provider] | None = None,
    cache: ResponseCache | None = None,
    aliases: Mapping[str, str] | None = None,
    config: ProviderConfig | None = None,
    clock: Callable[[], int] = now_us,
) -> Gateway:
    """Build the gateway. Tests pass their own store, providers, cache, config or clock."""
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    limits = Limits.from_settings(settings)
    config = config or load_config(settings.config_file)
    backend = store or default_store(settings, limits)
    # Metrics always (`/metrics`); traces only when an OTLP endpoint is configured.
    metrics = Metrics(job_kinds=(WRITE_KIND, SUMMARY_KIND))
    tracing = tracing_from(settings)
    probe = Probe(metrics, tracing.tracer if tracing is not None else None)
    the_store = CachedStore(backend, cache or default_cache(settings), probe)
    limiter = default_limiter(settings, backend)
    keyring = KeyRing(settings.api_keys, getattr(backend, "keys", None), limiter=limiter)
    # The app closes only the adapters it made; adapters passed in belong to the caller.
    owned = build_providers(settings.provider_settings(), config) if providers is None else {}
    registry = Registry(
        providers if providers is not None else owned,
        aliases={**config.aliases, **(aliases or {})},
        fallbacks=config.fallbacks,
        known=KNOWN_PROVIDERS | frozenset(config.endpoints),
    )
    caller = Caller(
        registry,
        CallPolicy(total_timeout_s=settings.provider_timeout_s, attempts=settings.provider_attempts),
        probe,
    )
    max_turn_s = settings.provider_timeout_s + 60
    shutdown = Shutdown(grace_s=settings.shutdown_grace_s)
    assistants = AssistantService(the_store.assistants, caller, limits, clock)
    memory = MemoryService(
        the_store,
        embedder(
            caller,
            settings.embedding_model,
            threads=settings.embedding_threads,
            precision=cast("Precision", settings.embedding_precision),
        ),
        MemorySettings(
            top_k=settings.memory_top_k,
            min_score=settings.memory_min_score,
            duplicate_score=settings.memory_duplicate_score,
            model=settings.memory_model,
        ),
        clock=clock,
    )
    summary_settings = SummarySettings(
        model=settings.summary_model,
        after_tokens=settings.summary_after_tokens,
        max_tokens=settings.summary_max_tokens,
        attempts=settings.summary_attempts,
    )
    # One set of leases for turns and for items added without a model (the in-process locks).
    locks = TurnLocks(the_store.turn_locks, max_hold_s=max_turn_s)
    services = Services(
        store=the_store,
        limits=limits,
        memory=memory,
        turns=TurnService(
            the_store,
            caller,
            limits,
            # No turn holds its thread longer than a provider call and its save may take.
            locks=locks,
            turn_wait_s=settings.turn_wait_s,
            max_turn_s=max_turn_s,
            shutdown=shutdown,
            quick_edit_s=settings.cancel_quick_edit_s,
            clock=clock,
            assistants=assistants,
            default_model=settings.default_model,
            memory=memory,
            summaries=Summaries(the_store.summaries, summary_settings),
            spend=limiter.spend if limiter is not None and limiter.counts_tokens else None,
            probe=probe,
        ),
        threads=ThreadService(the_store.threads, caller, limits, clock, assistants=assistants),
        assistants=assistants,
        items=ItemService(the_store, locks, limits, turn_wait_s=settings.turn_wait_s, clock=clock),
        clock=clock,
    )

    job_handlers: dict[str, Handler] = {
        WRITE_KIND: MemoryWriter(memory, caller, clock=clock),
        SUMMARY_KIND: SummaryWriter(
            the_store.threads, the_store.summaries, caller, summary_settings, clock=clock
        ),
    }

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await the_store.open()
        runner = JobRunner(
            the_store.jobs,
            job_handlers,
            clock=clock,
            settings=RunnerSettings(lease_s=settings.job_lease_s, concurrency=settings.job_concurrency),
        )
        runner.start()
        services.turns.wake = runner.wake
        purger = asyncio.create_task(purge_loop(the_store, settings.purge_interval_s, clock))
        await keyring.refresh()
        key_refresher = asyncio.create_task(keyring.run())
        publisher = asyncio.create_task(publish_every())  # the metrics, to the multiprocess files
        # In the main thread (a server's worker), SIGTERM starts the drain; not in a test's thread.
        undo = shutdown.install() if threading.current_thread() is threading.main_thread() else None
        try:
            yield
        finally:
            if undo is not None:
                undo()
            purger.cancel()
            key_refresher.cancel()
            publisher.cancel()
            for task in (purger, key_refresher, publisher):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            # Running jobs get what is left of the grace; the rest go back to the queue.
            await runner.stop(grace_s=shutdown.left_s())
            await locks.aclose()
            services.turns.wake = None
            await memory.embedder.aclose()
            await the_store.close()
            if limiter is not None:
                await limiter.close()
            for adapter in owned.values():
                await adapter.aclose()
            if tracing is not None:  # the spans still queued are sent
                await asyncio.to_thread(tracing.shutdown)
            publish()  # what the jobs stopped above counted too

    freddy = freddy_door(services, keyring, max_body_bytes=settings.max_body_bytes)
    backboard = backboard_door(services, keyring, caller, max_body_bytes=settings.max_body_bytes)
    openai = openai_door(services, keyring, max_body_bytes=settings.max_body_bytes)
    admin = admin_routes(settings.admin_key, getattr(backend, "keys", None), clock)
    app = Gateway(
        fast=[freddy.fast, openai.fast, backboard.fast],
        metrics=metrics,
        tracer=probe.tracer,
        route_handlers=[
            health,
            ready,
            metrics_route(metrics, the_store.jobs, clock),
            freddy.router,
            backboard.router,
            openai.router,
            *admin,
        ],
        dependencies={"services": Provide(lambda: services, use_cache=True, sync_to_thread=False)},
        lifespan=[lifespan],
        middleware=[RequestContextMiddleware],
        # The X-RateLimit-* headers of the framework's answers, only when limits are set.
        before_send=[before_send] if limiter is None else [before_send, rate_limit_headers],
        # Errors outside every route (an unknown path) are answered in the envelope of the door whose
        # paths they are under, else in the native door's.
        exception_handlers={Exception: by_path_prefix([backboard.errors, *openai.errors], handle_exception)},
        request_class=StrictRequest,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=openapi_config(title="Thread gateway", version="0.1.0"),
        logging_config=None,
    )
    refine_lazily(app, [FREDDY_DOCS, BACKBOARD_DOCS, OPENAI_DOCS, *([ADMIN_DOCS] if admin else [])])
    return app


GC_YOUNG_THRESHOLD = 50_000


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
    # The young generation is collected after this many new container objects, not 2,000: a turn
    # makes a few thousand (its context's messages among them), almost all freed by their reference
    # counts, and a collection costs what is alive then (the requests in flight), however rarely it
    # runs. Measured: the collector's share of a worker's CPU fell from about 4% to under 1%.
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 10)
    return app
