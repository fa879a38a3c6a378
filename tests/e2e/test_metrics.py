"""`GET /metrics` (SPEC §15): Prometheus text without a key, summed over the worker processes.

Two workers serve turns on fresh connections until each has served some (its own counter file in
the multiprocess directory says so), then one scrape, whichever worker takes it, counts exactly
the turns sent: by door, route and status, as provider calls and tokens of echo, as turns, in the
latency histograms. A worker killed and replaced keeps its counts in the sums. In one process: the
response cache's hits and misses, and a failing provider's errors, retries and fallback."""

from __future__ import annotations

import itertools
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from providers.config import ProviderConfig
from tests.conftest import _SERVICES, BACKEND, KEY_A, Api, err, make_settings, ok, running, uid, user
from tests.e2e.metrics_helpers import label_values, samples, value
from tests.fakes.behaviours import Fail, Reply
from tests.fakes.server import serve
from tests.fakes.upstream import FakeUpstream
from tests.gateway_process import GatewayProcess, start_gateway, workers_of

TURN = "/v1/model/response"
MAX_TURNS = 400  # two workers not both served by then: the kernel is not spreading connections


def metrics_dir_of(pid: int) -> Path:
    """The multiprocess directory a worker was started with (its environment)."""
    env = dict(
        item.split(b"=", 1) for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") if b"=" in item
    )
    return Path(env[b"PROMETHEUS_MULTIPROC_DIR"].decode())


def turns_served_by(directory: Path, pid: int) -> float:
    """The turns one worker counted, from its own file alone."""
    path = directory / f"counter_{pid}.db"
    if not path.exists():
        return 0
    families = MultiProcessCollector.merge([str(path)], accumulate=True)
    return sum(
        s.value
        for f in families
        for s in f.samples
        if s.name == "gateway_requests_total" and s.labels.get("route") == TURN
    )


def until(predicate: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "the condition did not come true"
        time.sleep(0.05)


class Turns:
    """Turns sent one per connection (a new connection may land on either worker)."""

    def __init__(self, gw: GatewayProcess) -> None:
        self.gw = gw
        self.sent = 0
        self.input_tokens = 0
        self.output_tokens = 0

    def one(self) -> None:
        body = {"model": "echo", "inputs": [user(f"turn {self.sent} {uuid.uuid4().hex}")]}
        r = httpx.post(self.gw.url + TURN, headers={"X-API-Key": KEY_A}, json=body, timeout=30)
        usage = ok(r)["usage"]  # type: ignore[arg-type]
        self.sent += 1
        self.input_tokens += usage["input_tokens"]
        self.output_tokens += usage["output_tokens"]

    def until_served_by(self, directory: Path, pids: list[int]) -> None:
        while not all(turns_served_by(directory, pid) > 0 for pid in pids):
            assert self.sent < MAX_TURNS, f"not every worker served a turn: {pids}"
            for _ in range(5):
                self.one()


def scrape(gw: GatewayProcess) -> str:
    r = httpx.get(gw.url + "/metrics", timeout=10)  # no key
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"].startswith("text/plain")
    return r.text


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[GatewayProcess]:
    extra = {"GATEWAY_WORKERS": "2"}
    if BACKEND == "mongodb":
        extra |= {"GATEWAY_MONGODB_URI": _SERVICES["mongodb"], "GATEWAY_MONGODB_DATABASE": uid("gw")}
    gw = start_gateway(tmp_path / "data", tmp_path / "gw.log", extra)
    try:
        yield gw
    finally:
        gw.stop()


def test_a_scrape_sums_the_turns_of_both_workers_and_survives_a_killed_worker(
    two_workers: GatewayProcess,
) -> None:
    gw = two_workers
    until(lambda: len(workers_of(gw)) == 2)
    pids = workers_of(gw)
    directory = metrics_dir_of(pids[0])
    assert metrics_dir_of(pids[1]) == directory
    turns = Turns(gw)
    turns.until_served_by(directory, pids)
    # Counted once each answer is done: the scrape catches up with the last ones.
    until(lambda: value(scrape(gw), "gateway_requests_total", route=TURN) == turns.sent)

    text = scrape(gw)
    n = turns.sent
    assert value(text, "gateway_requests_total", door="freddy", route=TURN, status="200") == n
    assert value(text, "gateway_provider_calls_total") == n  # scrapes are no provider calls
    assert value(text, "gateway_provider_calls_total", provider="echo", model="echo") == n
    tokens = "gateway_provider_tokens_total"
    assert value(text, tokens, provider="echo", direction="input") == turns.input_tokens
    assert value(text, tokens, provider="echo", direction="output") == turns.output_tokens
    assert value(text, "gateway_provider_errors_total") == 0
    assert value(text, "gateway_turns_total", door="freddy", outcome="completed") == n
    assert value(text, "gateway_store_operation_duration_seconds_count", operation="append_turn") == n
    # The latency histogram: every turn in the +Inf bucket, the buckets cumulative.
    assert value(text, "gateway_request_duration_seconds_count", door="freddy", route=TURN) == n
    buckets = sorted(
        (float(labels["le"]), v)
        for name, labels, v in samples(text)
        if name == "gateway_request_duration_seconds_bucket" and labels["route"] == TURN
    )
    assert len(buckets) > 5 and buckets[-1] == (float("inf"), n)
    assert all(a[1] <= b[1] for a, b in itertools.pairwise(buckets))
    assert value(text, "gateway_request_duration_seconds_sum", route=TURN) > 0
    # The job queue is read from the store at the scrape: nothing waits (no assistant, no memory).
    assert value(text, "gateway_jobs_queued") == 0
    assert label_values(text, "gateway_jobs_queued", "kind") == {"memory.write", "thread.summary"}
    assert label_values(text, "gateway_jobs_oldest_age_seconds", "kind") == {"memory.write", "thread.summary"}

    # An unknown path is one label, never the raw path; each door by its paths.
    secret_path = f"/v1/no/such/{uuid.uuid4().hex}"
    assert httpx.get(gw.url + secret_path, headers={"X-API-Key": KEY_A}).status_code == 404
    assert httpx.get(gw.url + "/api/assistants").status_code == 401
    openai_turn = {"model": "echo", "input": "hi"}
    r = httpx.post(gw.url + "/v1/responses", headers={"X-API-Key": KEY_A}, json=openai_turn)
    assert r.status_code == 200, r.text[:300]
    # Each counted once its answer is done, maybe by another worker than the next one's.
    until(
        lambda: (
            value(scrape(gw), "gateway_requests_total", status="404") == 1
            and value(scrape(gw), "gateway_requests_total", door="backboard") == 1
            and value(scrape(gw), "gateway_requests_total", door="openai", status="200") == 1
        )
    )
    text = scrape(gw)
    assert secret_path.rsplit("/", 1)[1] not in text
    assert value(text, "gateway_requests_total", door="freddy", route="unmatched", status="404") == 1
    assert value(text, "gateway_requests_total", door="backboard", status="401") == 1
    assert value(text, "gateway_requests_total", door="openai", route="/v1/responses", status="200") == 1
    assert value(text, "gateway_turns_total", door="openai", outcome="completed") == 1
    assert value(text, "gateway_requests_total", door="other", route="/metrics", status="200") >= 1
    assert KEY_A not in text

    # A worker killed: replaced, and its counts stay in the sums, with the new worker's added.
    victim = pids[0]
    os.kill(victim, signal.SIGKILL)
    until(lambda: victim not in workers_of(gw) and len(workers_of(gw)) == 2)
    (fresh,) = set(workers_of(gw)) - set(pids)
    assert value(scrape(gw), "gateway_requests_total", route=TURN) == n
    turns.until_served_by(directory, [fresh])
    until(lambda: value(scrape(gw), "gateway_requests_total", route=TURN) == turns.sent)
    assert value(scrape(gw), "gateway_provider_calls_total", provider="echo") == turns.sent + 1
    assert f"worker [{victim}] stopped" in gw.log.read_text()


async def metrics_text(api: Api) -> str:
    r = await api.client.get("/metrics")  # no key
    assert r.status_code == 200
    return r.text


async def test_response_cache_hits_and_misses_are_counted(a: Api) -> None:
    first = ok(await a.say("remember me", thread=uid("thread")))
    before = await metrics_text(a)
    assert value(before, "gateway_response_cache_lookups_total") == 0
    # A chain reads its previous response: from the cache, where the turn left it.
    ok(await a.say("and now?", previousResponseId=first["id"]))
    err(await a.say("unknown", previousResponseId="resp_never_made"), 404, "RESPONSE_NOT_FOUND")
    text = await metrics_text(a)
    assert value(text, "gateway_response_cache_lookups_total", result="hit") == 1
    assert value(text, "gateway_response_cache_lookups_total", result="miss") == 1
    assert value(text, "gateway_store_operation_duration_seconds_count", operation="get_response") == 1
    assert value(text, "gateway_turns_total", door="freddy", outcome="completed") == 2
    assert value(text, "gateway_turns_total", door="freddy", outcome="refused") == 1


@pytest.fixture
def openai_fake() -> Iterator[tuple[FakeUpstream, str]]:
    fake = FakeUpstream()
    with serve(fake) as url:
        yield fake, url


async def test_provider_errors_retries_and_fallbacks_are_counted(
    tmp_path: Path, openai_fake: tuple[FakeUpstream, str]
) -> None:
    fake, url = openai_fake
    key = "sk-test-metrics-0123456789"
    settings = make_settings(tmp_path, openai_api_key=key, openai_base_url=f"{url}/v1", provider_attempts=2)
    config = ProviderConfig(fallbacks={"openai/gpt-primary": ["echo"]})
    async with running(settings, config=config) as client:
        api = Api(client, KEY_A)

        async def ask(model: str) -> httpx.Response:
            return await api.post(TURN, json={"model": model, "inputs": [user("hi")]})

        fake.push(Fail(503), Fail(503))  # both attempts fail: echo takes over
        assert ok(await ask("openai/gpt-primary"))["output_text"] == "hi"
        fake.push(Fail(429, headers={"Retry-After": "7"}))  # neither retried nor fallen back
        err(await ask("openai/gpt-primary"), 429, "RATE_LIMITED")
        fake.push(Reply(chunks=("fine",), input_tokens=11, output_tokens=7))
        assert ok(await ask("openai/gpt-4.1"))["output_text"] == "fine"
        text = await metrics_text(api)
    primary: dict[str, Any] = {"provider": "openai", "model": "gpt-primary"}
    assert len(fake.calls) == 4
    assert value(text, "gateway_provider_calls_total", **primary) == 3
    assert value(text, "gateway_provider_retries_total", **primary) == 1
    assert value(text, "gateway_provider_errors_total", **primary, error="PROVIDER_ERROR") == 2
    assert value(text, "gateway_provider_errors_total", **primary, error="RATE_LIMITED") == 1
    assert value(text, "gateway_provider_fallbacks_total") == 1
    assert value(text, "gateway_provider_fallbacks_total", provider="echo", model="echo") == 1
    assert value(text, "gateway_provider_calls_total", provider="echo", model="echo") == 1
    gpt = {"provider": "openai", "model": "gpt-4.1"}
    assert value(text, "gateway_provider_tokens_total", **gpt, direction="input") == 11
    assert value(text, "gateway_provider_tokens_total", **gpt, direction="output") == 7
    assert value(text, "gateway_provider_call_duration_seconds_count", **gpt) == 1
    assert value(text, "gateway_turns_total", door="freddy", outcome="completed") == 2
    assert value(text, "gateway_turns_total", door="freddy", outcome="failed") == 1
    assert value(text, "gateway_requests_total", door="freddy", route=TURN, status="429") == 1
    assert "sk-test-metrics" not in text
