"""Shared fixtures: the real app over real SQLite on disk, driven through HTTP."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.settings import Settings, load_settings
from tests.services import RedisServer, ThreadedMongo, redis_url

KEY_A, ORG_A = "ak_test_alpha_0123456789", "org_alpha"
KEY_B, ORG_B = "ak_test_beta_9876543210", "org_beta"
API_KEYS = {KEY_A: ORG_A, KEY_B: ORG_B}


# `make test` runs the HTTP suite twice: on the embedded default, then with GATEWAY_TEST_BACKEND=mongodb
# (MongoDB through mongoeco's wire server or GATEWAY_TEST_MONGODB_URI, Redis through a private
# redis-server or GATEWAY_TEST_REDIS_URL).
BACKEND = os.environ.get("GATEWAY_TEST_BACKEND", "sqlite")
_SERVICES: dict[str, str] = {}

# A test of what the gateway answers before any store is asked (authentication, request validation,
# routing, request ids, HTTP limits) behaves the same on every backend: the MongoDB run deselects it
# (pytest prints the count) instead of running it a second time. Nothing that reads or writes threads,
# turns, messages, responses, assistants or memories gets this mark.
store_independent = pytest.mark.store_independent


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist does not report deselected tests: the workers leave their ids in a file the
    # controller names, and it prints them at the end (pytest_terminal_summary).
    if BACKEND == "mongodb" and not hasattr(config, "workerinput"):
        fd, path = tempfile.mkstemp(prefix="gw-deselected-", suffix=".txt")
        os.close(fd)
        os.environ["GATEWAY_TEST_DESELECTED_FILE"] = path


# The longest modules (a benchmark smoke, generated requests, gateways of several processes) start
# first, so that the two test processes do not end with one of them alone on a minute-long test.
_FIRST = (
    "tests/integration/test_bench_smoke.py",
    "tests/integration/test_schemathesis.py",
    "tests/integration/test_kill_worker.py",
    "tests/e2e/test_rate_limits.py",
    "tests/integration/test_cli_threads.py",
    "tests/integration/test_cli_keys.py",
    "tests/integration/test_key_store_contract.py",
)


def _started_first(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return _FIRST.index(path) if path in _FIRST else len(_FIRST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=_started_first)  # stable: each module's own order stays
    if BACKEND != "mongodb":
        return
    dropped = [item for item in items if item.get_closest_marker("store_independent")]
    if not dropped:
        return
    config.hook.pytest_deselected(items=dropped)
    items[:] = [item for item in items if not item.get_closest_marker("store_independent")]
    record = os.environ.get("GATEWAY_TEST_DESELECTED_FILE")
    if record and getattr(config, "workerinput", {}).get("workerid", "gw0") == "gw0":
        Path(record).write_text("\n".join(item.nodeid for item in dropped))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    record = os.environ.get("GATEWAY_TEST_DESELECTED_FILE")
    if BACKEND != "mongodb" or hasattr(config, "workerinput") or not record or not os.path.exists(record):
        return
    ids = Path(record).read_text().split("\n")
    os.unlink(record)
    ids = [i for i in ids if i]
    if not ids:
        return
    per_test = Counter(i.split("[", 1)[0] for i in ids)
    title = f"{len(ids)} deselected on MongoDB: store_independent (they ran on SQLite)"
    terminalreporter.write_sep("=", title)
    for name, count in sorted(per_test.items()):
        terminalreporter.write_line(f"{count:4d}  {name}")


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    backend: dict[str, Any] = {}
    if BACKEND == "mongodb":
        backend = {
            "mongodb_uri": _SERVICES["mongodb"],
            "redis_url": _SERVICES["redis"],
            "mongodb_database": f"gw_{uuid.uuid4().hex[:12]}",
        }
    return load_settings({}, data_dir=str(data_dir), api_keys=API_KEYS, **{**backend, **overrides})


@pytest.fixture(scope="session", autouse=True)
def backend_services() -> Iterator[None]:
    if BACKEND != "mongodb":
        yield
        return
    mongo = redis = None
    if os.environ.get("GATEWAY_TEST_MONGODB_URI"):
        _SERVICES["mongodb"] = os.environ["GATEWAY_TEST_MONGODB_URI"]
    else:
        mongo = ThreadedMongo()
        _SERVICES["mongodb"] = mongo.start()
    if os.environ.get("GATEWAY_TEST_REDIS_URL"):
        _SERVICES["redis"] = os.environ["GATEWAY_TEST_REDIS_URL"]
    else:
        redis = RedisServer()
        redis.start()
        _SERVICES["redis"] = redis.url
    try:
        yield
    finally:
        if redis is not None:
            redis.stop()
        if mongo is not None:
            mongo.stop()


@asynccontextmanager
async def running(settings: Settings, **app_kwargs: Any) -> AsyncIterator[AsyncTestClient[Any]]:
    """The app, its lifespan started, behind an HTTP test client (no key set)."""
    app = create_app(settings, **app_kwargs)
    async with AsyncTestClient(app=app) as client:
        yield client


@asynccontextmanager
async def in_this_loop(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan by hand in the test's own event loop and hand out a client on it.

    `AsyncTestClient` serves the app from a loop of its own and one request at a time; tests that
    need true concurrency, or that drive the ASGI app directly, use this instead.
    """
    import asyncio

    to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    lifespan = asyncio.create_task(app(scope, to_app.get, from_app.put))
    await to_app.put({"type": "lifespan.startup"})
    started = await asyncio.wait_for(from_app.get(), 30)
    assert started["type"] == "lifespan.startup.complete", started
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        await to_app.put({"type": "lifespan.shutdown"})
        stopped = await asyncio.wait_for(from_app.get(), 30)
        assert stopped["type"] == "lifespan.shutdown.complete", stopped
        await lifespan


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with running(settings) as c:
        yield c


@pytest.fixture
def a(client: AsyncTestClient[Any]) -> Api:
    return Api(client, KEY_A)


@pytest.fixture
def b(client: AsyncTestClient[Any]) -> Api:
    return Api(client, KEY_B)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A private redis-server of the test's own, which it may stop and start again."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def redis_server_url() -> Iterator[str]:
    """One Redis server for a module's tests (each keeps to a key prefix of its own)."""
    with redis_url() as url:
        yield url


def uid(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "texts": [{"text": text}]}


class Api:
    """A caller of one organization: thin helpers over the HTTP client."""

    def __init__(self, client: AsyncTestClient[Any], key: str) -> None:
        self.client = client
        self.headers = {"X-API-Key": key}

    async def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        return await self.client.request(method, url, headers=headers, **kw)

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", url, **kw)

    async def post(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("POST", url, **kw)

    async def patch(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("PATCH", url, **kw)

    async def delete(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kw)

    async def say(self, text: str, **fields: Any) -> httpx.Response:
        body = {"model": "echo", "inputs": [user(text)], **fields}
        return await self.post("/v1/model/response", json=body)

    async def thread(self, thread_id: str) -> httpx.Response:
        return await self.get(f"/v1/threads/{thread_id}")

    async def messages(self, thread_id: str, **params: Any) -> list[dict[str, Any]]:
        """Every message of a thread, walking all pages."""
        out: list[dict[str, Any]] = []
        after = None
        for _ in range(10_000):
            q = {"limit": 100, **params}
            if after:
                q["after"] = after
            r = await self.get(f"/v1/threads/{thread_id}/messages", params=q)
            assert r.status_code == 200, r.text
            page = r.json()
            out += page["data"]
            if not page["has_more"]:
                return out
            after = page["last_id"]
        raise AssertionError("message pagination did not end")


def ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, (r.status_code, r.text[:500])
    body: dict[str, Any] = r.json()
    return body


def err(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert the envelope of SPEC §8 and return its `error`."""
    assert r.status_code == status, (r.status_code, r.text[:500])
    body = r.json()
    assert body["success"] is False, body
    error: dict[str, Any] = body["error"]
    assert set(error) >= {"code", "message", "type", "status", "details", "trace_id", "timestamp"}, error
    assert error["status"] == status
    assert error["trace_id"] == r.headers["x-request-id"]
    if code is not None:
        assert error["code"] == code, error
    return error


def sse_events(raw: str) -> list[tuple[str, dict[str, Any]]]:
    """Parse a text/event-stream body into (event name, data) pairs."""
    import json

    events: list[tuple[str, dict[str, Any]]] = []
    # Litestar separates lines with CRLF; a client must accept CR, LF and CRLF alike.
    for block in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n\n"):
        name, data = None, None
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data = line.split(":", 1)[1].strip()
        if name and data:
            events.append((name, json.loads(data)))
    return events


Clock = Callable[[], int]
