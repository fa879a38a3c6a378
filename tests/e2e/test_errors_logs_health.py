"""SPEC §8 (one error shape, X-Request-ID), §2 (keys never in logs or bodies), §9 (health,
readiness, OpenAPI) and the request log lines."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

import gateway.http.health as health_module
from gateway.core.rules import Limits
from gateway.errors import StoreUnavailable
from gateway.store.cache import MemoryCache
from gateway.store.sqlite.store import SqliteStore
from providers.base import ChatMessage, Completion, ModelRequest, TextDelta
from providers.echo import EchoProvider
from tests.conftest import (
    KEY_A,
    KEY_B,
    ORG_A,
    ORG_B,
    Api,
    err,
    make_settings,
    ok,
    running,
    sse_events,
    uid,
    user,
)

SECRET_DETAIL = "kaboom-internal-detail-7f3a"


class BrokenProvider:
    """A provider that fails in a way no adapter error describes (a bug, not an upstream error)."""

    name = "echo"

    def context_window(self, model: str) -> int:
        return 32_768

    def count_tokens(self, message: ChatMessage) -> int:
        return 1

    async def complete(self, request: ModelRequest) -> Completion:
        raise RuntimeError(SECRET_DETAIL)

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | Completion]:
        yield TextDelta("partial ")
        raise RuntimeError(SECRET_DETAIL)


async def say(api: Api, text: str, rid: str, **fields: Any) -> httpx.Response:
    """A turn sent with a chosen X-Request-ID."""
    body = {"model": "echo", "inputs": [user(text)], **fields}
    return await api.post("/v1/model/response", json=body, headers={"X-Request-ID": rid})


# -- X-Request-ID --------------------------------------------------------------------------------------


async def test_every_response_carries_a_request_id(client: AsyncTestClient[Any], a: Api) -> None:
    tid = ok(await a.say("hi"))["thread_id"]
    responses: list[httpx.Response] = [
        await client.get("/health"),
        await client.get("/health/ready"),
        await client.get("/schema/openapi.json"),
        await client.get("/nope"),
        await client.get("/v1/threads"),
        await client.get("/v1/threads", headers={"X-API-Key": "wrong"}),
        await a.get("/v1/threads"),
        await a.thread(tid),
        await a.get(f"/v1/threads/{tid}/messages"),
        await a.post("/v1/threads", json={}),
        await a.patch(f"/v1/threads/{tid}", json={"metadata": {"k": 1}}),
        await a.say("again", thread=tid),
        await a.say("streamed", thread=tid, stream=True),
        await a.post("/v1/model/response", content=b"{", headers={"Content-Type": "application/json"}),
        await a.say("x", model="nope"),
        await a.thread("missing"),
        await a.request("PUT", "/v1/threads"),
        await a.delete(f"/v1/threads/{tid}"),
    ]
    seen = []
    for r in responses:
        rid = r.headers.get("x-request-id")
        assert rid, (r.request.method, r.request.url, r.status_code)
        assert re.fullmatch(r"[A-Za-z0-9._:\-]{1,128}", rid), rid
        if r.status_code >= 400 and r.headers.get("content-type", "").startswith("application/json"):
            err(r, r.status_code)  # the envelope, with trace_id == X-Request-ID
        seen.append(rid)
    assert len(set(seen)) == len(seen), "every request gets its own id"


@pytest.mark.parametrize("given", ["trace-123", "a", "req_ABC.def:ghi-jkl_0", "x" * 128])
async def test_well_formed_caller_request_id_is_echoed_and_is_the_trace_id(
    client: AsyncTestClient[Any], a: Api, given: str
) -> None:
    h = {"X-Request-ID": given}
    assert ok(await a.get("/v1/threads", headers=h)) is not None
    assert (await a.get("/v1/threads", headers=h)).headers["x-request-id"] == given
    for r, status in [
        (await a.get("/v1/threads/missing", headers=h), 404),
        (await client.get("/v1/threads", headers=h), 401),
        (await a.post("/v1/model/response", json={"model": "echo"}, headers=h), 422),
        (await client.get("/no/such/route", headers=h), 404),
    ]:
        assert r.headers["x-request-id"] == given
        assert err(r, status)["trace_id"] == given
    assert (await client.get("/health", headers=h)).headers["x-request-id"] == given


async def test_caller_request_id_is_echoed_on_a_stream(a: Api) -> None:
    r = await a.post(
        "/v1/model/response",
        json={"model": "echo", "inputs": [user("hi")], "stream": True},
        headers={"X-Request-ID": "stream-trace-1"},
    )
    assert r.status_code == 200
    assert r.headers["x-request-id"] == "stream-trace-1"


@pytest.mark.parametrize(
    "given",
    ["x" * 129, "abc\x01def", "abc\tdef", "with space", "semi;colon", 'quote"d', "slash/y", "", "   "],
    ids=["too-long", "control-char", "tab", "space", "semicolon", "quote", "slash", "empty", "blanks"],
)
async def test_malformed_caller_request_id_is_replaced_by_a_generated_one(
    client: AsyncTestClient[Any], a: Api, given: str
) -> None:
    r = await a.get("/v1/threads/missing", headers={"X-Request-ID": given})
    rid = r.headers["x-request-id"]
    assert rid != given
    assert given not in r.text or given.strip() == ""
    assert re.fullmatch(r"[A-Za-z0-9._:\-]{1,128}", rid), rid
    assert err(r, 404, "THREAD_NOT_FOUND")["trace_id"] == rid
    r2 = await a.get("/v1/threads/missing", headers={"X-Request-ID": given})
    assert r2.headers["x-request-id"] != rid


async def test_non_ascii_request_id_bytes_are_replaced(client: AsyncTestClient[Any]) -> None:
    r = await client.get("/health", headers=[(b"X-Request-ID", "ünï".encode())])
    assert r.status_code == 200
    rid = r.headers["x-request-id"]
    assert re.fullmatch(r"[A-Za-z0-9._:\-]{1,128}", rid), rid


@pytest.mark.parametrize("path", ["/nope", "/v1", "/v1/nope", "/v1/threads/a/b/c", "/health/nope"])
async def test_unknown_route_is_404_not_found_in_the_envelope(a: Api, path: str) -> None:
    r = await a.get(path)
    e = err(r, 404, "NOT_FOUND")
    assert r.headers["content-type"].startswith("application/json")
    assert e["type"]
    given = await a.get(path, headers={"X-Request-ID": "route-trace"})
    assert err(given, 404, "NOT_FOUND")["trace_id"] == "route-trace"


async def test_unknown_route_without_a_key_is_an_envelope_too(client: AsyncTestClient[Any]) -> None:
    r = await client.get("/v1/does-not-exist")
    assert r.status_code in (401, 404)
    err(r, r.status_code)


@pytest.mark.parametrize(
    ("method", "path"), [("PUT", "/v1/threads"), ("DELETE", "/v1/threads"), ("GET", "/v1/model/response")]
)
async def test_wrong_method_is_a_4xx_envelope(a: Api, method: str, path: str) -> None:
    r = await a.request(method, path)
    assert r.status_code == 405, r.text
    err(r, 405)


async def test_error_timestamp_is_rfc3339_utc(a: Api) -> None:
    e = err(await a.thread("missing"), 404, "THREAD_NOT_FOUND")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", e["timestamp"]), e["timestamp"]
    assert e["type"] == "not_found"
    assert e["details"] == {}


# -- internal errors ---------------------------------------------------------------------------------


async def test_unexpected_provider_exception_is_500_internal_error_without_details(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path), providers={"echo": BrokenProvider()}) as client:
        a = Api(client, KEY_A)
        tid = uid()
        r = await say(a, "hello", "boom-1", thread=tid)
        e = err(r, 500, "INTERNAL_ERROR")
        assert e["trace_id"] == "boom-1"
        assert e["type"] == "internal_error"
        for leak in (SECRET_DETAIL, "RuntimeError", "Traceback", 'File "', ".py"):
            assert leak not in r.text
        # Nothing was saved, and the id is still free.
        err(await a.thread(tid), 404, "THREAD_NOT_FOUND")
        assert ok(await a.get("/v1/threads"))["data"] == []
        # The app keeps serving.
        assert (await client.get("/health")).status_code == 200


async def test_unexpected_provider_exception_on_existing_thread_appends_nothing(tmp_path: Path) -> None:
    echo = EchoProvider()
    broken = BrokenProvider()

    class Switch:
        name = "echo"
        failing = False

        def context_window(self, model: str) -> int:
            return echo.context_window(model)

        def count_tokens(self, message: ChatMessage) -> int:
            return echo.count_tokens(message)

        async def complete(self, request: ModelRequest) -> Completion:
            return await (broken if self.failing else echo).complete(request)

        def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | Completion]:
            return (broken if self.failing else echo).stream(request)

    switch = Switch()
    async with running(make_settings(tmp_path), providers={"echo": switch}) as client:
        a = Api(client, KEY_A)
        tid = ok(await a.say("first"))["thread_id"]
        before = ok(await a.thread(tid))
        switch.failing = True
        err(await a.say("second", thread=tid), 500, "INTERNAL_ERROR")
        assert ok(await a.thread(tid)) == before
        switch.failing = False
        assert ok(await a.say("third", thread=tid))["output_text"] == "first\nthird"


async def test_unexpected_provider_exception_in_a_stream_ends_with_response_failed(tmp_path: Path) -> None:
    """SPEC §3.3: a stream ends with `response.completed` or `response.failed` (error as §8)."""
    async with running(make_settings(tmp_path), providers={"echo": BrokenProvider()}) as client:
        a = Api(client, KEY_A)
        tid = uid()
        try:
            r = await a.say("hello", thread=tid, stream=True)
        except Exception as exc:  # noqa: BLE001 - the failure under test
            pytest.fail(f"the stream broke off instead of ending with response.failed: {exc!r}")
        assert r.status_code == 200
        assert SECRET_DETAIL not in r.text and "Traceback" not in r.text
        events = sse_events(r.text)
        names = [n for n, _ in events]
        assert names[0] == "response.created"
        assert names[-1] == "response.failed", names
        assert "response.completed" not in names
        error = events[-1][1]["error"]
        assert error["code"] == "INTERNAL_ERROR"
        assert error["status"] == 500
        assert error["trace_id"] == r.headers["x-request-id"]
        err(await a.thread(tid), 404, "THREAD_NOT_FOUND")


# -- logs --------------------------------------------------------------------------------------------


def _lines(out: str) -> list[dict[str, Any]]:
    lines = [line for line in out.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        obj = json.loads(line)  # every line on stdout is one JSON object
        assert isinstance(obj, dict), line
        parsed.append(obj)
    return parsed


def _request_line(lines: list[dict[str, Any]], rid: str) -> dict[str, Any]:
    found = [x for x in lines if x.get("event") == "request" and x.get("request_id") == rid]
    assert len(found) == 1, (rid, lines)
    return found[0]


async def test_each_request_logs_one_json_line_with_its_context(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    async with running(make_settings(tmp_path)) as client:
        a, b = Api(client, KEY_A), Api(client, KEY_B)
        tid = uid()
        capsys.readouterr()
        turn = await say(a, "hi", "log-turn", thread=tid)
        assert turn.status_code == 200
        await a.get(f"/v1/threads/{tid}", headers={"X-Request-ID": "log-get"})
        await say(b, "hi", "log-bad-model", model="nope")
        await client.get("/v1/threads", headers={"X-Request-ID": "log-nokey"})
        await client.get("/health", headers={"X-Request-ID": "log-health"})
        out = capsys.readouterr().out

    lines = _lines(out)
    t = _request_line(lines, "log-turn")
    assert t["organization_id"] == ORG_A
    assert t["thread_id"] == tid
    assert t["model"] == "echo"
    assert t["status"] == 200
    assert t["method"] == "POST" and t["path"] == "/v1/model/response"

    g = _request_line(lines, "log-get")
    assert (g["organization_id"], g["thread_id"], g["status"]) == (ORG_A, tid, 200)
    assert "model" not in g  # nothing of the previous request leaks into this one

    m = _request_line(lines, "log-bad-model")
    assert (m["organization_id"], m["model"], m["status"]) == (ORG_B, "nope", 404)
    assert "thread_id" not in m

    n = _request_line(lines, "log-nokey")
    assert n["status"] == 401
    assert "organization_id" not in n

    h = _request_line(lines, "log-health")
    assert h["status"] == 200
    assert not {"organization_id", "thread_id", "model"} & set(h)


async def test_internal_error_is_logged_with_the_request_id(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    async with running(make_settings(tmp_path), providers={"echo": BrokenProvider()}) as client:
        capsys.readouterr()
        await say(Api(client, KEY_A), "x", "log-500")
        out = capsys.readouterr().out
    lines = _lines(out)
    assert _request_line(lines, "log-500")["status"] == 500
    errors = [x for x in lines if x.get("request_id") == "log-500" and x.get("level") == "error"]
    assert errors, lines
    # The operator (not the caller) gets the detail.
    assert SECRET_DETAIL in json.dumps(errors)


async def test_api_keys_never_appear_in_logs_or_bodies(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bodies: list[str] = []
    header_values: list[str] = []

    def keep(r: httpx.Response) -> None:
        bodies.append(r.text)
        header_values.extend(f"{k}: {v}" for k, v in r.headers.items())

    settings = make_settings(tmp_path)
    async with running(settings) as client:
        a, b = Api(client, KEY_A), Api(client, KEY_B)
        tid = ok(await a.say("hello", thread=uid()))["thread_id"]
        for r in [
            await a.say("again", thread=tid),
            await a.say("streamed", thread=tid, stream=True),
            await b.say("hi"),
            await a.get("/v1/threads"),
            await a.get(f"/v1/threads/{tid}/messages"),
            await b.thread(tid),
            await a.say("bad", model="gpt-4.1"),
            await a.say("bad", model="nope"),
            await a.say("bad", temperature=7),
            await a.post(
                "/v1/model/response", content=b"{not json", headers={"Content-Type": "application/json"}
            ),
            await a.say("bad", organization_id=ORG_B),
            await a.get("/v1/threads", params={"limit": "abc"}),
            await client.get("/v1/threads"),
            await client.get("/v1/threads", headers={"Authorization": f"Bearer {KEY_B}"}),
            await client.get("/v1/threads", headers={"Authorization": f"Basic {KEY_A}"}),
            await client.get("/v1/threads", headers={"Authorization": KEY_A}),
            await client.get("/v1/threads", headers={"X-API-Key": KEY_A[:-1]}),
            await client.get("/v1/threads", headers={"X-API-Key": KEY_A + "x"}),
            await client.get("/v1/threads", headers={"X-API-Key": "x" + KEY_B}),
            await client.get("/v1/threads", headers={"Authorization": f"Bearer {KEY_B[1:]}"}),
            await client.get("/v1/threads", headers={"X-API-Key": f" {KEY_A} "}),
            await client.post("/v1/threads", json={"id": "x"}, headers={"X-API-Key": KEY_A.upper()}),
            await client.get("/nope", headers={"X-API-Key": KEY_A}),
            await client.request("PUT", "/v1/threads", headers={"X-API-Key": KEY_A}),
            await client.get("/health/ready", headers={"X-API-Key": KEY_A}),
            await client.get("/schema/openapi.json", headers={"X-API-Key": KEY_A}),
        ]:
            keep(r)
    async with running(settings, providers={"echo": BrokenProvider()}) as client:
        a = Api(client, KEY_A)
        r500 = await a.say("x")
        assert r500.status_code == 500
        keep(r500)
        keep(await client.post("/v1/model/response", json={}, headers={"Authorization": f"Bearer {KEY_B}"}))

    out = capsys.readouterr()
    logged = out.out + out.err
    assert '"event": "request"' in logged  # the capture did see the logs
    assert '"unhandled_error"' in logged
    for key in (KEY_A, KEY_B):
        # Any substantial piece of a key would be a leak, not only the whole key.
        for piece in {key, key[:-1], key[1:], key.upper(), key[len(key) // 2 - 6 : len(key) // 2 + 6]}:
            assert piece not in logged, piece
            for text in bodies + header_values:
                assert piece not in text, (piece, text[:300])
    assert "Settings(" not in logged or "keys>" in logged


# -- health and readiness ----------------------------------------------------------------------------


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
