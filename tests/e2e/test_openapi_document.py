"""The OpenAPI document (issue 15): valid OpenAPI 3.1, every route of the app with the statuses it
can answer in its door's envelope, its key, its stream; the docs pages load nothing from the
internet.

The rules are read from the app's routes here (guards, path parameters, bodies), not from the
gateway's docs tables, and the document is checked against what the gateway really sends: real
errors and real streamed events of each door validate against the schemas it names.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest
from litestar import Litestar, Router, get, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient
from openapi_spec_validator import validate

from gateway.app import create_app
from gateway.doors.backboard.docs import BACKBOARD_DOCS
from gateway.doors.freddy.docs import FREDDY_DOCS
from gateway.doors.openai.docs import OPENAI_DOCS
from gateway.http.docs_site import STATIC_DIR, openapi_config
from gateway.http.openapi import refine
from providers.echo import EchoProvider
from providers.errors import UpstreamFailed
from tests.conftest import KEY_A, make_settings, sse_events, store_independent, user
from tests.e2e.test_streaming import Chunky

FREDDY = "#/components/schemas/ErrorEnvelope"
BACKBOARD = "#/components/schemas/BackboardError"
OPENAI = "#/components/schemas/OpenAIErrorEnvelope"
KEY = {"X-API-Key": KEY_A}
# The routes that call a model (a turn, a title, an embedding) and the statuses that brings.
CALLS_MODEL = {
    ("post", "/v1/model/response"): {400, 404, 409, 502, 504},
    ("post", "/v1/threads/{thread_id}/generateName"): {400, 409, 502, 504},
    ("post", "/api/threads/messages"): {400, 404, 409, 502, 504},
    ("post", "/api/threads/{thread_id}/messages"): {400, 409, 502, 504},
    ("post", "/v1/responses"): {400, 404, 409, 502, 504},
    ("post", "/v1/assistants/{assistant_id}/memories"): {502, 504},
    ("post", "/v1/assistants/{assistant_id}/memories/search"): {502, 504},
    ("put", "/v1/assistants/{assistant_id}/memories/{memory_id}"): {502, 504},
    ("post", "/api/assistants/{assistant_id}/memories"): {502, 504},
    ("post", "/api/assistants/{assistant_id}/memories/search"): {502, 504},
    ("put", "/api/assistants/{assistant_id}/memories/{memory_id}"): {502, 504},
}
# Where a request can meet a thread's state, a busy thread or an idempotency key in flight.
CONFLICTS = {
    ("post", "/v1/threads"),
    ("patch", "/v1/threads/{thread_id}"),
    ("post", "/v1/model/response/{thread_id}/cancel"),
    ("patch", "/v1/threads/{thread_id}/messages/{message_id}"),
    ("delete", "/v1/threads/{thread_id}/messages/{message_id}"),
    ("post", "/v1/assistants"),
    ("post", "/api/assistants"),
    ("post", "/v1/conversations"),
    ("post", "/v1/conversations/{conversation_id}/items"),
    ("delete", "/v1/conversations/{conversation_id}/items/{item_id}"),
}
STREAMS = {
    ("post", "/v1/model/response"): "ResponseObject",
    ("post", "/v1/responses"): "ResponseObject",
    ("post", "/api/threads/messages"): "BackboardAnswer",
    ("post", "/api/threads/{thread_id}/messages"): "BackboardAnswer",
}


def envelope_of(path: str) -> str:
    """The error envelope each door answers in (SPEC §8, §13, §14); the native one elsewhere."""
    if path == "/api" or path.startswith("/api/"):
        return BACKBOARD
    if path.startswith(("/v1/responses", "/v1/conversations")):
        return OPENAI
    return FREDDY


class Served:
    """The app and its document, as served."""

    def __init__(self, app: Litestar, client: AsyncTestClient[Any], doc: dict[str, Any]) -> None:
        self.app = app
        self.client = client
        self.doc = doc

    def ops(self) -> Iterator[tuple[str, str, BaseRouteHandler, HTTPRoute]]:
        """(method, path template, handler, route) of every documented operation of the app."""
        for route in self.app.routes:
            if not isinstance(route, HTTPRoute):
                continue
            for handler in route.route_handlers:
                if not handler.resolve_include_in_schema():
                    continue
                for method in handler.http_methods:
                    yield method.lower(), route.path_format, handler, route

    def operation(self, method: str, path: str) -> dict[str, Any]:
        op: dict[str, Any] = self.doc["paths"][path][method]
        return op

    def validator(self, ref: str) -> jsonschema.Draft202012Validator:
        """A validator of one of the document's schemas, its references resolved in the document."""
        return jsonschema.Draft202012Validator({"$ref": ref, "components": self.doc["components"]})

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            found: Any = self.doc
            for part in node["$ref"].removeprefix("#/").split("/"):
                found = found[part]
            node = found
        return node


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    providers = {
        "echo": EchoProvider(),
        "chunky": Chunky(["half ", "way"], fail=lambda: UpstreamFailed("chunky", 500)),
    }
    app = create_app(make_settings(tmp_path), providers=providers)
    async with AsyncTestClient(app=app) as client:
        r = await client.get("/schema/openapi.json")
        assert r.status_code == 200, r.text[:300]
        yield Served(app, client, r.json())


def _statuses(op: dict[str, Any]) -> set[int]:
    return {int(s) for s in op["responses"] if s.isdigit()}


def _error_ref(op: dict[str, Any], status: int) -> str:
    ref: str = op["responses"][str(status)]["content"]["application/json"]["schema"]["$ref"]
    return ref


# -- the document as a whole -------------------------------------------------------------------------


@store_independent
async def test_document_is_valid_openapi_3_1(served: Served) -> None:
    assert served.doc["openapi"].startswith("3.1")
    validate(served.doc)


@store_independent
async def test_every_route_of_the_app_is_in_the_document(served: Served) -> None:
    ops = list(served.ops())
    assert len(ops) > 50  # the three doors and health
    for method, path, _, _ in ops:
        assert method in served.doc["paths"].get(path, {}), (method, path)


async def test_security_schemes_are_the_keys_the_gateway_takes(served: Served) -> None:
    schemes = served.doc["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["Bearer"]["type"] == "http" and schemes["Bearer"]["scheme"] == "bearer"
    # Each scheme, as documented, opens a route; without one it stays shut.
    assert (await served.client.get("/v1/threads", headers={"X-API-Key": KEY_A})).status_code == 200
    bearer = {"Authorization": f"Bearer {KEY_A}"}
    assert (await served.client.get("/v1/threads", headers=bearer)).status_code == 200
    assert (await served.client.get("/v1/threads")).status_code == 401


# -- the rules, route by route ---------------------------------------------------------------------


@store_independent
async def test_guarded_operations_need_a_key_and_document_401_429_500_503(served: Served) -> None:
    guarded = [(m, p) for m, p, h, _ in served.ops() if h.resolve_guards()]
    assert len(guarded) > 50
    for method, path in guarded:
        op = served.operation(method, path)
        assert op["security"] == [{"ApiKey": []}, {"Bearer": []}], (method, path)
        assert {401, 429, 500, 503} <= _statuses(op), (method, path, sorted(_statuses(op)))
        for status in (401, 429, 500, 503):
            assert _error_ref(op, status) == envelope_of(path), (method, path, status)


async def test_health_needs_no_key_and_documents_no_401(served: Served) -> None:
    public = [(m, p) for m, p, h, _ in served.ops() if not h.resolve_guards()]
    assert {("get", "/health"), ("get", "/health/ready")} <= set(public)
    for method, path in public:
        op = served.operation(method, path)
        assert op["security"] == [], (method, path)
        assert 401 not in _statuses(op)
        r = await served.client.request(method.upper(), path)  # answered without a key, as documented
        assert r.status_code == 200, (path, r.status_code)
    assert 503 in _statuses(served.operation("get", "/health/ready"))


@store_independent
async def test_operations_with_path_parameters_document_404(served: Served) -> None:
    with_params = [(m, p) for m, p, _, route in served.ops() if route.path_parameters]
    assert len(with_params) > 30
    for method, path in with_params:
        op = served.operation(method, path)
        assert 404 in _statuses(op), (method, path)
        assert _error_ref(op, 404) == envelope_of(path)


@store_independent
async def test_operations_with_a_body_document_413_and_422(served: Served) -> None:
    with_body = [(m, p) for m, p, _, _ in served.ops() if "requestBody" in served.operation(m, p)]
    # Every JSON-taking route has a body, the Backboard turns' three media types included.
    assert ("post", "/api/threads/messages") in with_body and ("post", "/v1/model/response") in with_body
    for method, path in with_body:
        op = served.operation(method, path)
        assert {413, 422} <= _statuses(op), (method, path)
        assert _error_ref(op, 413) == _error_ref(op, 422) == envelope_of(path)
    for method, path, _, _ in served.ops():
        op = served.operation(method, path)
        if op.get("parameters"):  # a parameter out of its bounds, or one the route does not know
            assert 422 in _statuses(op), (method, path)


@store_independent
async def test_model_calls_document_400_502_504_and_conflicts_409(served: Served) -> None:
    for (method, path), expected in CALLS_MODEL.items():
        op = served.operation(method, path)
        assert expected <= _statuses(op), (method, path, sorted(_statuses(op)))
        for status in expected:
            assert _error_ref(op, status) == envelope_of(path)
    for method, path in CONFLICTS:
        op = served.operation(method, path)
        assert 409 in _statuses(op), (method, path)
        assert "Retry-After" in op["responses"]["409"]["headers"]


@store_independent
async def test_rate_limit_answer_documents_retry_after_and_the_limit_headers(served: Served) -> None:
    op = served.operation("post", "/v1/model/response")
    headers = op["responses"]["429"]["headers"]
    for name in ("Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert served.resolve(headers[name])["schema"] == {"type": "integer"}, name
    assert "RATE_LIMITED" in op["responses"]["429"]["description"]
    assert "STORE_UNAVAILABLE" in op["responses"]["503"]["description"]


@store_independent
async def test_every_answer_documents_x_request_id(served: Served) -> None:
    for method, path, _, _ in served.ops():
        for status, answer in served.operation(method, path)["responses"].items():
            header = answer["headers"]["X-Request-ID"]
            assert served.resolve(header)["schema"] == {"type": "string"}, (method, path, status)


@store_independent
async def test_litestars_validation_exception_400_is_gone(served: Served) -> None:
    text = json.dumps(served.doc)
    assert "Validation Exception" not in text
    for method, path, _, _ in served.ops():
        answer = served.operation(method, path)["responses"].get("400")
        if answer is not None:
            assert _error_ref(served.operation(method, path), 400) == envelope_of(path), (method, path)


class KeyBody(msgspec.Struct):
    name: str


async def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    return None


@post("/keys/{key_id:str}")
async def touch_key(key_id: FromPath[str], data: JSONBody[KeyBody]) -> KeyBody:
    return data


@get("/keys")
async def list_keys(org: FromQuery[str | None] = None) -> list[str]:
    return []


@get("/metrics")
async def metrics() -> str:
    return ""


@store_independent
async def test_a_route_added_later_is_documented_by_the_same_rules() -> None:
    """The rules come from the routes: a guarded admin route and an open metrics route that no
    docs table names get their key, statuses and envelope all the same."""

    app = Litestar(
        [Router("/admin", route_handlers=[touch_key, list_keys], guards=[admin_guard]), metrics],
        openapi_config=openapi_config(title="t", version="1"),
    )
    refine(app, [FREDDY_DOCS, BACKBOARD_DOCS, OPENAI_DOCS])
    async with AsyncTestClient(app=app) as client:
        doc = (await client.get("/schema/openapi.json")).json()
    validate(doc)
    admin = doc["paths"]["/admin/keys/{key_id}"]["post"]
    assert admin["security"] == [{"ApiKey": []}, {"Bearer": []}]
    assert {401, 404, 413, 422, 429, 500, 503} <= _statuses(admin)
    assert 400 not in _statuses(admin)  # Litestar's own, gone
    assert all(_error_ref(admin, s) == FREDDY for s in (401, 404, 413, 422, 429, 500, 503))
    listing = doc["paths"]["/admin/keys"]["get"]
    assert _statuses(listing) == {200, 401, 422, 429, 500, 503}  # 422: its query parameter
    scrape = doc["paths"]["/metrics"]["get"]
    assert scrape["security"] == []
    assert _statuses(scrape) == {200}
    assert "X-Request-ID" in scrape["responses"]["200"]["headers"]


@store_independent
async def test_the_document_is_made_when_first_asked_for_and_finished_once(tmp_path: Path) -> None:
    """Building the app does not generate the document (most of what building costs); the first
    page that needs it does, finished by the same rules, and every later page serves that one."""
    from litestar._openapi.plugin import OpenAPIPlugin

    app = create_app(make_settings(tmp_path))
    plugin = app.plugins.get(OpenAPIPlugin)
    assert plugin._openapi_schema is None  # not generated by create_app
    async with AsyncTestClient(app=app) as client:
        assert plugin._openapi_schema is None  # nor by the startup
        page = await client.get("/schema/redoc")
        # The page embeds the document, finished (the idempotency header is the gateway's own).
        assert page.status_code == 200 and "redoc-container" in page.text and "Idempotency-Key" in page.text
        first = (await client.get("/schema/openapi.json")).json()
        again = (await client.get("/schema/openapi.json")).json()
        as_yaml = await client.get("/schema/openapi.yaml")
    assert first == again
    assert as_yaml.status_code == 200 and "Idempotency-Key" in as_yaml.text
    validate(first)
    assert {"ApiKey", "Bearer"} <= set(first["components"]["securitySchemes"])
    turn = first["paths"]["/v1/model/response"]["post"]
    refs = [p for p in turn["parameters"] if p == {"$ref": "#/components/parameters/Idempotency-Key"}]
    assert len(refs) == 1  # finished once, not once per page
    assert _error_ref(turn, 401) == FREDDY and 400 in _statuses(turn)


# -- the document against what the gateway sends -----------------------------------------------------


async def test_real_errors_validate_against_the_documented_envelope(served: Served) -> None:
    c = served.client
    cases = [
        ("get", "/v1/threads/{thread_id}", "/v1/threads/never_made", 404, KEY),
        ("get", "/v1/threads/{thread_id}", "/v1/threads/never_made", 401, {}),
        ("get", "/api/threads/{thread_id}", f"/api/threads/{uuid.uuid4()}", 404, KEY),
        ("get", "/api/threads/{thread_id}", f"/api/threads/{uuid.uuid4()}", 401, {}),
        ("get", "/v1/responses/{response_id}", "/v1/responses/resp_never", 404, KEY),
        ("get", "/v1/responses/{response_id}", "/v1/responses/resp_never", 401, {}),
    ]
    for method, template, url, status, headers in cases:
        r = await c.request(method.upper(), url, headers=headers)
        assert r.status_code == status, (url, r.text[:300])
        ref = _error_ref(served.operation(method, template), status)
        served.validator(ref).validate(r.json())
        assert r.headers["x-request-id"]
    # A body the door refuses: 422 in each door's envelope.
    for template, body in (("/v1/model/response", {"model": 1}), ("/v1/responses", {"model": 1})):
        r = await c.post(template, json=body, headers=KEY)
        assert r.status_code == 422, r.text[:300]
        served.validator(_error_ref(served.operation("post", template), 422)).validate(r.json())


TURNS = {
    ("post", "/v1/model/response"): {"model": "echo", "inputs": [user("once")]},
    ("post", "/v1/responses"): {"model": "echo", "input": "once"},
    ("post", "/api/threads/messages"): {"content": "once"},
}


async def test_turns_document_the_idempotency_key_and_its_replay(served: Served) -> None:
    parameter = served.resolve({"$ref": "#/components/parameters/Idempotency-Key"})
    assert parameter["in"] == "header" and parameter["required"] is False
    for method, path in [*TURNS, ("post", "/api/threads/{thread_id}/messages")]:
        op = served.operation(method, path)
        assert {"$ref": "#/components/parameters/Idempotency-Key"} in op["parameters"], path
        assert "Idempotent-Replayed" in op["responses"]["200"]["headers"], path
        assert {409, 422} <= _statuses(op)
    for (method, path), body in TURNS.items():
        headers = {**KEY, "Idempotency-Key": f"k-{uuid.uuid4()}"}
        first = await served.client.request(method.upper(), path, json=body, headers=headers)
        again = await served.client.request(method.upper(), path, json=body, headers=headers)
        assert first.status_code == again.status_code == 200, (path, again.text[:300])
        assert "idempotent-replayed" not in first.headers
        assert again.headers["idempotent-replayed"] == "true"  # as documented, with its one value
        assert served.resolve(
            served.operation(method, path)["responses"]["200"]["headers"]["Idempotent-Replayed"]
        )["schema"]["enum"] == ["true"]


async def test_rate_limited_answers_carry_the_documented_headers(tmp_path: Path) -> None:
    """With a limit of one request a minute, each door's 429 has every header the document names
    for it and a body in the documented envelope; an admitted answer has the X-RateLimit-* ones."""
    app = create_app(make_settings(tmp_path, rate_limit_rpm=1))
    async with AsyncTestClient(app=app) as client:
        doc = (await client.get("/schema/openapi.json")).json()
        served = Served(app, client, doc)
        admitted = await client.get("/v1/threads", headers=KEY)
        assert admitted.status_code == 200, admitted.text[:300]
        for name in served.operation("get", "/v1/threads")["responses"]["200"]["headers"]:
            assert name.lower() in admitted.headers, name
        for method, path, url in (
            ("get", "/v1/threads", "/v1/threads"),
            ("get", "/api/threads", "/api/threads"),
            ("get", "/v1/responses/{response_id}", "/v1/responses/resp_none"),
        ):
            # One request a minute: of any two in a row, the second is refused, even across a minute.
            for _ in range(2):
                r = await client.request(method.upper(), url, headers=KEY)
                if r.status_code == 429:
                    break
            assert r.status_code == 429, (url, r.status_code, r.text[:300])
            documented = served.operation(method, path)["responses"]["429"]
            for name in documented["headers"]:
                assert name.lower() in r.headers, (url, name)
            served.validator(_error_ref(served.operation(method, path), 429)).validate(r.json())


def _stream_media(served: Served, method: str, path: str) -> dict[str, Any]:
    ok = served.operation(method, path)["responses"]["200"]
    assert "application/json" in ok["content"]
    media: dict[str, Any] = ok["content"]["text/event-stream"]
    return media


@store_independent
async def test_streaming_operations_document_their_events(served: Served) -> None:
    for (method, path), answer in STREAMS.items():
        media = _stream_media(served, method, path)
        assert media["schema"]["type"] == "string"
        events = media["x-events"]
        assert events, (method, path)
        for name, data in events.items():
            # The table in the description names each event, and each has its data's schema.
            assert f"`{name}`" in media["schema"]["description"]
            assert data.get("title") == name or data["allOf"][-1]["title"] == name
        # The whole answer beside it: the door's object, as without `stream`.
        json_ref = served.operation(method, path)["responses"]["200"]["content"]["application/json"]
        assert json_ref["schema"]["$ref"].endswith(answer), (path, json_ref)
        assert served.resolve(json_ref["schema"])["title"] == answer
    assert set(_stream_media(served, "post", "/v1/model/response")["x-events"]) == {
        "response.created",
        "response.output_text.delta",
        "response.output_text.done",
        "response.completed",
        "response.failed",
    }


def _validate_events(served: Served, media: dict[str, Any], events: list[tuple[str, Any]]) -> None:
    documented = media["x-events"]
    for name, data in events:
        assert name in documented, (name, sorted(documented))
        schema = {**documented[name], "components": served.doc["components"]}
        jsonschema.Draft202012Validator(schema).validate(data)


def _backboard_events(raw: str) -> list[tuple[str, Any]]:
    out = []
    for block in raw.replace("\r\n", "\n").strip().split("\n\n"):
        assert block.startswith("data: "), block
        data = json.loads(block.removeprefix("data: "))
        out.append((data["type"], data))
    return out


@pytest.mark.parametrize("model", ["echo", "chunky/m"], ids=["completed", "failed"])
async def test_freddy_stream_sends_only_documented_events_in_their_shapes(served: Served, model: str) -> None:
    body = {"model": model, "inputs": [user("hi")], "stream": True}
    r = await served.client.post("/v1/model/response", json=body, headers=KEY)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    assert events[-1][0] == ("response.completed" if model == "echo" else "response.failed")
    assert r.text.replace("\r\n", "\n").rstrip().endswith("data: [DONE]")  # as the description says
    _validate_events(served, _stream_media(served, "post", "/v1/model/response"), events)


@pytest.mark.parametrize("model", ["echo", "chunky/m"], ids=["completed", "failed"])
async def test_openai_stream_sends_only_documented_events_in_their_shapes(served: Served, model: str) -> None:
    body = {"model": model, "input": "hi", "stream": True}
    r = await served.client.post("/v1/responses", json=body, headers=KEY)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    names = [n for n, _ in events]
    assert names[0] == "response.created"
    assert names[-1] == ("response.completed" if model == "echo" else "response.failed")
    _validate_events(served, _stream_media(served, "post", "/v1/responses"), events)


@pytest.mark.parametrize("provider", ["echo", "chunky"], ids=["completed", "failed"])
async def test_backboard_stream_sends_only_documented_events_in_their_shapes(
    served: Served, provider: str
) -> None:
    body = {"content": "hi", "stream": True, "llm_provider": provider, "model_name": "m"}
    if provider == "echo":
        body = {"content": "hi", "stream": True}
    r = await served.client.post("/api/threads/messages", json=body, headers=KEY)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = _backboard_events(r.text)
    names = [n for n, _ in events]
    assert names[0] == "run_started"
    assert names[-1] == ("run_ended" if provider == "echo" else "error")
    if provider == "echo":
        assert "message_complete" in names
    media = _stream_media(served, "post", "/api/threads/messages")
    _validate_events(served, media, events)
    assert media == _stream_media(served, "post", "/api/threads/{thread_id}/messages")


# -- the docs pages, offline ---------------------------------------------------------------------


_URL_ATTR = re.compile(r"""(?:src|href)\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)
_PAGES = {
    "/schema": ["/schema/static/redoc/redoc.standalone.js"],
    "/schema/redoc": ["/schema/static/redoc/redoc.standalone.js"],
    "/schema/swagger": [
        "/schema/static/swagger-ui/swagger-ui.css",
        "/schema/static/swagger-ui/swagger-ui-bundle.js",
        "/schema/static/swagger-ui/swagger-ui-standalone-preset.js",
    ],
}
_TYPES = {".js": "text/javascript", ".css": "text/css"}


@store_independent
async def test_docs_pages_load_nothing_from_the_internet(served: Served) -> None:
    for page, assets in _PAGES.items():
        r = await served.client.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), page
        html = r.text
        # No script, style, font or icon from elsewhere: every URL is this server's or inline.
        urls = _URL_ATTR.findall(html)
        assert urls, page
        for url in urls:
            assert url.startswith(("/", "data:")) and not url.startswith("//"), (page, url)
        assert "fonts.googleapis.com" not in html and "cdn." not in html, page
        assert "@import" not in html
        assert sorted(u for u in urls if u.startswith("/schema/static/")) == sorted(assets), page


@store_independent
async def test_docs_assets_are_served_whole_with_their_type(served: Served) -> None:
    for asset in {a for assets in _PAGES.values() for a in assets}:
        r = await served.client.get(asset)
        assert r.status_code == 200, asset
        assert r.headers["content-type"].startswith(_TYPES[Path(asset).suffix]), (asset, r.headers)
        assert len(r.content) > 100_000, asset  # the bundle, not a stub
        local = STATIC_DIR / asset.removeprefix("/schema/static/")
        assert r.content == local.read_bytes()
    # Served without a key, like the pages.
    assert (await served.client.get("/schema/static/redoc/LICENSE")).status_code == 200


@store_independent
async def test_renderers_that_would_load_from_a_cdn_are_not_offered(served: Served) -> None:
    for page in ("/schema/rapidoc", "/schema/elements"):
        assert (await served.client.get(page)).status_code == 404, page


@store_independent
def test_vendored_assets_carry_their_licenses() -> None:
    assert "MIT" in (STATIC_DIR / "redoc" / "LICENSE").read_text()
    assert "Apache License" in (STATIC_DIR / "swagger-ui" / "LICENSE").read_text()
    assert (STATIC_DIR / "swagger-ui" / "NOTICE").is_file()
