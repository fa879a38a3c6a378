"""The gateway's Prometheus metrics (SPEC §15), with the `prometheus-client` library.

With one process the metrics live in a registry of this app's own. With several worker processes
(`gateway.serve` sets `PROMETHEUS_MULTIPROC_DIR` before any worker starts) every value is kept in
the directory's memory-mapped files, one set per process, and a scrape of any worker sums them all
(the library's multiprocess mode), so `/metrics` answers for the whole server whichever worker
takes it. An update is kept in the process's memory and written to its file by `publish`: every
`PUBLISH_S` (the app's lifespan runs it), before this worker answers a scrape, and at shutdown. The
library writes the file on every update (a lock, a `getpid` and a packed write into the map, about a
microsecond; a turn makes about fifteen); a scrape now sees another worker's counts up to a second
late, and a worker killed loses at most its last second of counts.

Every label takes values from a bounded set: the door (five names), the route template (never the
raw path; an unknown path is `unmatched`), the status, the provider, and the model, which a caller
names: after `MAX_MODELS` distinct models the rest are counted as `other`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Sequence
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The text format 0.0.4, which every Prometheus reads (the framework adds the charset).
CONTENT_TYPE = prometheus_client.CONTENT_TYPE_PLAIN_0_0_4.removesuffix("; charset=utf-8")

# From a cached turn (a millisecond) to the provider timeout's default (120 s).
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)
STORE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)
MAX_MODELS = 100
UNMATCHED = "unmatched"
NO_STATUS = "none"  # the client left before any answer was sent

# `_created` series double the output and are not kept in multiprocess mode anyway.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

PUBLISH_S = 1.0
_changed: set[Any] = set()  # the values updated since they were last written to their file


def _deferred(base: Any) -> Any:
    """The library's memory-mapped value class, with its updates kept in memory until `publish`.
    (Its file, key and value are its own attributes; its lock guards the map, used by `publish`
    on the event loop only, like every update.)"""

    class DeferredValue(base):  # type: ignore[misc]
        def inc(self, amount: float) -> None:
            self._value += amount
            self._timestamp = 0.0
            _changed.add(self)

        def set(self, value: float, timestamp: float | None = None) -> None:
            self._value = value
            self._timestamp = timestamp or 0.0
            _changed.add(self)

        def get(self) -> float:
            value: float = self._value
            return value

    return DeferredValue


if getattr(values.ValueClass, "_multiprocess", False):  # the directory was named before the import
    values.ValueClass = _deferred(values.ValueClass)


def publish() -> None:
    """Write this process's changed values to its files (where a scrape of any worker reads them)."""
    while _changed:
        value = _changed.pop()
        value._file.write_value(value._key, value._value, value._timestamp)


async def publish_every(seconds: float = PUBLISH_S) -> None:
    """`publish` every `seconds` until cancelled, and once more then."""
    try:
        while True:
            await asyncio.sleep(seconds)
            publish()
    finally:
        publish()


def door_of(path: str) -> str:
    """The door a path belongs to (SPEC §1): freddy, backboard, openai, health or other."""
    if path.startswith("/v1/"):
        if path.startswith(("/v1/responses", "/v1/conversations")):
            return "openai"
        return "freddy"
    if path == "/api" or path.startswith("/api/"):
        return "backboard"
    if path == "/health" or path.startswith("/health/"):
        return "health"
    return "other"


class Backlog(Collector):
    """The job queue's depth and the age of its oldest unfinished job by kind, as last read from
    the store (the `/metrics` handler reads it just before each scrape: it is the same for every
    worker, so it is not summed over them)."""

    def __init__(self, kinds: Sequence[str]) -> None:
        self.kinds = tuple(kinds)
        self._seen: dict[str, tuple[int, float]] | None = None

    def update(self, seen: dict[str, tuple[int, float]] | None) -> None:
        """Each kind's (unfinished jobs, seconds since the oldest was enqueued); None: unknown."""
        self._seen = seen

    def collect(self) -> Iterable[Metric]:
        seen = self._seen
        if seen is None:  # the store did not answer: no figure rather than a wrong one
            return
        depth = GaugeMetricFamily(
            "gateway_jobs_queued", "Background jobs not finished yet (pending or running)", labels=["kind"]
        )
        age = GaugeMetricFamily(
            "gateway_jobs_oldest_age_seconds", "Age of the oldest unfinished job", labels=["kind"]
        )
        for kind in self.kinds:
            count, oldest = seen.get(kind, (0, 0.0))
            depth.add_metric([kind], count)
            age.add_metric([kind], oldest)
        yield depth
        yield age


class CallMetrics:
    """The metric children of one (provider, model), made once."""

    __slots__ = ("calls", "fallbacks", "input_tokens", "labels", "output_tokens", "retries", "seconds")

    def __init__(self, m: Metrics, provider: str, model: str) -> None:
        self.labels = (provider, model)
        self.calls = m.provider_calls.labels(provider, model)
        self.retries = m.provider_retries.labels(provider, model)
        self.fallbacks = m.provider_fallbacks.labels(provider, model)
        self.seconds = m.provider_seconds.labels(provider, model)
        self.input_tokens = m.provider_tokens.labels(provider, model, "input")
        self.output_tokens = m.provider_tokens.labels(provider, model, "output")


class Metrics:
    """The metrics of one app, and its `/metrics` text (`exposition`)."""

    def __init__(self, job_kinds: Sequence[str] = ()) -> None:
        # The library chose how to keep values when it was first imported: files only if the
        # directory was named by then (the scrape must read what the values are written to).
        self.multiprocess = values.ValueClass is not values.MutexValue and bool(os.environ.get(MULTIPROC_ENV))
        r = self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            "gateway_requests", "HTTP requests answered", ("door", "route", "status"), registry=r
        )
        self.request_seconds = Histogram(
            "gateway_request_duration_seconds",
            "Time from a request's arrival to the end of its answer",
            ("door", "route"),
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        pm = ("provider", "model")
        self.provider_calls = Counter(
            "gateway_provider_calls", "Calls sent to a provider (each attempt)", pm, registry=r
        )
        self.provider_errors = Counter(
            "gateway_provider_errors", "Failed provider calls by error code", (*pm, "error"), registry=r
        )
        self.provider_retries = Counter(
            "gateway_provider_retries", "Attempts repeated on the same provider", pm, registry=r
        )
        self.provider_fallbacks = Counter(
            "gateway_provider_fallbacks", "Calls that went to a fallback (this provider)", pm, registry=r
        )
        self.provider_tokens = Counter(
            "gateway_provider_tokens", "Tokens of completed calls", (*pm, "direction"), registry=r
        )
        self.provider_seconds = Histogram(
            "gateway_provider_call_duration_seconds",
            "Time of one provider call (one attempt)",
            pm,
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.turns = Counter("gateway_turns", "Turns by door and outcome", ("door", "outcome"), registry=r)
        self.cache = Counter(
            "gateway_response_cache_lookups",
            "Response cache look-ups: hit, miss, or stale (a hit its thread no longer stands for)",
            ("result",),
            registry=r,
        )
        self.store_seconds = Histogram(
            "gateway_store_operation_duration_seconds",
            "Time of one store operation",
            ("operation",),
            buckets=STORE_BUCKETS,
            registry=r,
        )
        self.backlog = Backlog(job_kinds)
        if self.multiprocess:
            # A scrape reads every process's files; the live values of this one are among them.
            self._scraped = CollectorRegistry(auto_describe=False)
            multiprocess.MultiProcessCollector(self._scraped)  # type: ignore[no-untyped-call]
            self._scraped.register(self.backlog)
        else:
            self._scraped = r
            r.register(self.backlog)
        # The label children of the hot path, made once each (a dict look-up instead of the
        # library's label check and lock).
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._models: dict[tuple[str, str], CallMetrics] = {}

    def request(self, door: str, route: str, status: int | None, seconds: float) -> None:
        """One answered request: counted, and its duration observed."""
        key = (door, route, status or 0)
        children = self._request_children.get(key)
        if children is None:
            children = self._request_children[key] = (
                self.requests.labels(door, route, NO_STATUS if status is None else str(status)),
                self.request_seconds.labels(door, route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def calls(self, provider: str, model: str) -> CallMetrics:
        """The metrics of calls to `model` of `provider`; past `MAX_MODELS` models, `other`'s."""
        found = self._models.get((provider, model))
        if found is not None:
            return found
        if len(self._models) >= MAX_MODELS:
            model = "other"
            found = self._models.get((provider, model))
            if found is not None:
                return found
        found = self._models[(provider, model)] = CallMetrics(self, provider, model)
        return found

    def exposition(self) -> bytes:
        """The metrics in Prometheus's text format (summed over the worker processes)."""
        publish()
        return prometheus_client.generate_latest(self._scraped)
