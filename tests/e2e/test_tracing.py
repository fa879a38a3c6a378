"""OpenTelemetry traces of a turn (issue 15): with `OTEL_EXPORTER_OTLP_ENDPOINT` set, the gateway
sends its spans over OTLP/HTTP (protobuf) to a collector, here a fake one in the test that keeps
every `POST /v1/traces` and decodes it with opentelemetry-proto. A request is the span of its door
(under the caller's `traceparent`), with the turn's store operations and its provider call as
children; a failed attempt is an error span, a retry and a fallback are marked; no API key is in
anything exported."""

from __future__ import annotations

import gzip
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from providers.config import ProviderConfig
from tests.conftest import _SERVICES, BACKEND, KEY_A, make_settings, ok, running, uid, user
from tests.fakes.behaviours import Fail
from tests.fakes.server import serve
from tests.fakes.upstream import FakeUpstream
from tests.gateway_process import GatewayProcess, start_gateway


class Collector:
    """A fake OTLP/HTTP collector: every body posted to `/v1/traces`, raw and decoded."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                with collector._lock:
                    collector.paths.append(self.path)
                    collector.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Collector:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def spans(self) -> list[tuple[dict[str, Any], Span]]:
        """Every span received, with its resource's attributes."""
        with self._lock:
            bodies = list(self.bodies)
        out = []
        for body in bodies:
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for rs in request.resource_spans:
                resource = attributes(rs.resource.attributes)
                out += [(resource, span) for ss in rs.scope_spans for span in ss.spans]
        return out

    def raw(self) -> bytes:
        with self._lock:
            return b"".join(self.bodies)


def plain(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: plain(kv.value) for kv in kvs}


def until(predicate: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "the spans did not arrive"
        time.sleep(0.05)


@pytest.fixture
def traced(tmp_path: Path) -> Iterator[tuple[GatewayProcess, Collector]]:
    with Collector() as collector:
        extra = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "50"}
        if BACKEND == "mongodb":
            extra |= {"GATEWAY_MONGODB_URI": _SERVICES["mongodb"], "GATEWAY_MONGODB_DATABASE": uid("gw")}
        gw = start_gateway(tmp_path / "data", tmp_path / "gw.log", extra)
        try:
            yield gw, collector
        finally:
            gw.stop()


def test_a_turn_is_a_door_span_with_store_and_provider_children(
    traced: tuple[GatewayProcess, Collector],
) -> None:
    gw, collector = traced
    trace_id, parent_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    rid = f"req-trace-{uuid.uuid4().hex[:8]}"
    thread = uid("thread")
    headers = {"X-API-Key": KEY_A, "X-Request-ID": rid, "traceparent": f"00-{trace_id}-{parent_id}-01"}
    body = {"model": "echo", "inputs": [user("trace me")], "thread": thread}
    answer = ok(httpx.post(gw.url + "/v1/model/response", headers=headers, json=body, timeout=30))  # type: ignore[arg-type]

    def of_trace() -> list[tuple[dict[str, Any], Span]]:
        return [(r, s) for r, s in collector.spans() if s.trace_id.hex() == trace_id]

    until(lambda: {"POST /v1/model/response", "provider complete"} <= {s.name for _, s in of_trace()})
    until(lambda: "store append_turn" in {s.name for _, s in of_trace()})
    spans = of_trace()
    (door,) = [s for _, s in spans if s.kind == Span.SPAN_KIND_SERVER]
    assert door.name == "POST /v1/model/response"
    assert door.parent_span_id.hex() == parent_id  # the caller's traceparent
    assert attributes(door.attributes) == {
        "http.request.method": "POST",
        "gateway.door": "freddy",
        "http.route": "/v1/model/response",
        "gateway.request_id": rid,
        "http.response.status_code": 200,
    }
    children = [s for _, s in spans if s.parent_span_id == door.span_id]
    assert {s.name for s in children} >= {"store turn_view", "store append_turn", "provider complete"}
    backend = "mongodb" if BACKEND == "mongodb" else "sqlite"
    for span in children:
        if span.name.startswith("store "):
            assert attributes(span.attributes) == {
                "db.system.name": backend,
                "db.operation.name": span.name.removeprefix("store "),
            }
            assert span.kind == Span.SPAN_KIND_CLIENT
    (provider,) = [s for s in children if s.name == "provider complete"]
    assert attributes(provider.attributes) == {
        "gen_ai.system": "echo",
        "gen_ai.operation.name": "complete",
        "gen_ai.request.model": "echo",
        "gateway.provider.retry": False,
        "gateway.provider.fallback": False,
        "gen_ai.usage.input_tokens": answer["usage"]["input_tokens"],
        "gen_ai.usage.output_tokens": answer["usage"]["output_tokens"],
    }
    # Children end inside their parent.
    for span in children:
        assert door.start_time_unix_nano <= span.start_time_unix_nano <= span.end_time_unix_nano
        assert span.end_time_unix_nano <= door.end_time_unix_nano
    assert all(r["service.name"] == "thread-gateway" for r, _ in spans)
    assert set(collector.paths) == {"/v1/traces"}

    # A framework route: its template names the span, its store read hangs under it.
    r = httpx.get(
        f"{gw.url}/v1/threads/{thread}", headers={"X-API-Key": KEY_A, "X-Request-ID": rid + "-read"}
    )
    assert r.status_code == 200

    def read_span() -> list[Span]:
        return [
            s
            for _, s in collector.spans()
            if attributes(s.attributes).get("gateway.request_id") == rid + "-read"
        ]

    until(lambda: len(read_span()) == 1)
    (read,) = read_span()
    assert read.name == "GET /v1/threads/{thread_id}"
    until(lambda: any(s.parent_span_id == read.span_id for _, s in collector.spans()))
    under = {s.name for _, s in collector.spans() if s.parent_span_id == read.span_id}
    assert under and all(name.startswith("store ") for name in under)

    # A streamed turn: the provider's span covers the stream and carries its tokens.
    stream_id = rid + "-stream"
    streamed = {**body, "stream": True}
    with httpx.stream(
        "POST",
        gw.url + "/v1/model/response",
        headers={"X-API-Key": KEY_A, "X-Request-ID": stream_id},
        json=streamed,
        timeout=30,
    ) as r:
        assert r.status_code == 200
        events = r.read().decode()
    assert "response.completed" in events

    def stream_spans() -> tuple[list[Span], list[Span]]:
        everything = [s for _, s in collector.spans()]
        doors = [s for s in everything if attributes(s.attributes).get("gateway.request_id") == stream_id]
        ids = {d.span_id for d in doors}
        return doors, [s for s in everything if s.parent_span_id in ids and s.name == "provider stream"]

    until(lambda: len(stream_spans()[1]) == 1)
    (stream_door,), (stream_call,) = stream_spans()
    assert stream_door.name == "POST /v1/model/response"
    streamed_attrs = attributes(stream_call.attributes)
    assert streamed_attrs["gen_ai.usage.output_tokens"] > 0
    assert streamed_attrs["gen_ai.usage.input_tokens"] > answer["usage"]["input_tokens"]  # more history

    assert KEY_A.encode() not in collector.raw()
    assert thread.encode() not in collector.raw()  # no request content either (ids only by route)


async def test_failed_attempts_are_error_spans_and_the_fallback_is_marked(tmp_path: Path) -> None:
    fake = FakeUpstream()
    with Collector() as collector, serve(fake) as upstream:
        settings = make_settings(
            tmp_path,
            openai_api_key="sk-test-tracing-0123456789",
            openai_base_url=f"{upstream}/v1",
            provider_attempts=2,
            otlp_traces_endpoint=f"{collector.url}/v1/traces",
            otel_service_name="gateway-under-test",
        )
        config = ProviderConfig(fallbacks={"openai/gpt-primary": ["echo"]})
        fake.push(Fail(503), Fail(502))
        rid = f"req-fallback-{uuid.uuid4().hex[:8]}"
        async with running(settings, config=config) as client:
            r = await client.post(
                "/v1/model/response",
                headers={"X-API-Key": KEY_A, "X-Request-ID": rid},
                json={"model": "openai/gpt-primary", "inputs": [user("hi")]},
            )
            assert ok(r)["output_text"] == "hi"
        # The app's lifespan ended: every span was flushed to the collector.
    spans = [s for _, s in collector.spans()]
    (door,) = [s for s in spans if attributes(s.attributes).get("gateway.request_id") == rid]
    calls = sorted(
        (s for s in spans if s.parent_span_id == door.span_id and s.name.startswith("provider ")),
        key=lambda s: s.start_time_unix_nano,
    )
    seen = [
        (
            attributes(s.attributes)["gen_ai.system"],
            attributes(s.attributes)["gen_ai.request.model"],
            attributes(s.attributes)["gateway.provider.retry"],
            attributes(s.attributes)["gateway.provider.fallback"],
            attributes(s.attributes).get("error.type"),
            s.status.code,
        )
        for s in calls
    ]
    error, unset = Status.STATUS_CODE_ERROR, Status.STATUS_CODE_UNSET
    assert seen == [
        ("openai", "gpt-primary", False, False, "PROVIDER_ERROR", error),
        ("openai", "gpt-primary", True, False, "PROVIDER_ERROR", error),
        ("echo", "echo", False, True, None, unset),
    ]
    assert "gen_ai.usage.input_tokens" not in attributes(calls[0].attributes)
    assert attributes(calls[2].attributes)["gen_ai.usage.output_tokens"] == 1
    assert {r["service.name"] for r, _ in collector.spans()} == {"gateway-under-test"}
    assert b"sk-test-tracing" not in collector.raw() and KEY_A.encode() not in collector.raw()
