"""The OpenAPI document as the gateway really answers, finished after Litestar generated it.

Litestar documents its own 400 (a `ValidationException` body the gateway never sends) and nothing of
a route's other errors, does not know that a msgspec Struct with `forbid_unknown_fields` refuses
other properties, and cannot give one answer two media types. `refine` finishes the document from
the app's routes, so a route added later is documented by the same rules:

- a guarded route needs a key (`ApiKey` or `Bearer`, unless it declares its own security) and may
  answer 401, 429 (with `Retry-After` and `X-RateLimit-*`), 500 and 503; an unguarded one (health,
  metrics) needs none;
- a route with path parameters may answer 404; one with a request body 413 and 422, one with
  parameters 422;
- each door (`DoorDocs`) adds what its guards answer on every route (`always`) and what a route
  answers beyond these rules (`errors`: 400, 409, 502, 504 of a model call, ...), each in the door's
  error envelope; a route under no door's prefix is answered in the first door's envelope, as the
  app's exception handler does;
- every answer carries `X-Request-ID`.

Schemathesis checks the document against the running gateway in the suite.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.routes import HTTPRoute

Schema = dict[str, Any]
_REF = "#/components/schemas/{name}"
_HEADER = "#/components/headers/{name}"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_REASONS = {
    400: "The request contradicts itself or the model refused it: CONFLICTING_PARAMETERS, "
    "CONTEXT_LENGTH_EXCEEDED, UNSUPPORTED_PARAMETER",
    401: "No key (AUTHENTICATION_REQUIRED), or an unknown or revoked one (INVALID_API_KEY)",
    403: "Another organization named (ORGANIZATION_ACCESS_DENIED)",
    404: "Not found, or another organization's: THREAD_NOT_FOUND, RESPONSE_NOT_FOUND, MODEL_NOT_FOUND, "
    "ASSISTANT_NOT_FOUND, MEMORY_NOT_FOUND, NOT_FOUND",
    409: "Conflicts with the state of the resource: THREAD_ALREADY_EXISTS, THREAD_LOCKED, "
    "THREAD_ARCHIVED, INVALID_STATE_TRANSITION, THREAD_MESSAGE_LIMIT, "
    "THREAD_BUSY and IDEMPOTENCY_IN_FLIGHT (with Retry-After)",
    413: "The body is too large (PAYLOAD_TOO_LARGE)",
    422: "The request is not valid: VALIDATION_ERROR (the field's path in the message), "
    "METADATA_TOO_LARGE, IDEMPOTENCY_MISMATCH",
    429: "Rate limited (RATE_LIMITED): this key's requests or tokens per minute, or the provider's; "
    "Retry-After says when to try again",
    500: "Internal error (INTERNAL_ERROR)",
    502: "The provider failed (PROVIDER_ERROR)",
    503: "A dependency is unavailable: STORE_UNAVAILABLE, PROVIDER_NOT_CONFIGURED; "
    "the gateway restarting (with Retry-After)",
    504: "The provider did not answer in time (PROVIDER_TIMEOUT)",
}
# Every error of a guarded route, whatever it does: its key, its rate limit, the store behind it.
AUTHENTICATED = (401, 429, 500, 503)
# A route that calls a model: the provider refuses (400), fails (502) or times out (504).
CALLS_MODEL = (400, 502, 504)
_HEADERS: Schema = {
    "X-Request-ID": {
        "description": "The caller's `X-Request-ID`, or a new one; an error's `trace_id`",
        "schema": {"type": "string"},
    },
    "Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}},
    "X-RateLimit-Limit": {
        "description": "This key's limit per minute (requests, else tokens); only when limits are set",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Remaining": {
        "description": "What is left of it in this minute; only when limits are set",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Reset": {
        "description": "When this minute's window ends (Unix time, seconds); only when limits are set",
        "schema": {"type": "integer"},
    },
}
_HEADERS["Idempotent-Replayed"] = {
    "description": "`true` on the answer of a request sent again with the same `Idempotency-Key`: the "
    "first request's answer, not a new turn",
    "schema": {"type": "string", "enum": ["true"]},
}
_RATE = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
_IDEMPOTENCY_KEY: Schema = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes the turn safe to send again (Stripe's semantics): the same key and body answer "
    "the first answer (`Idempotent-Replayed: true`); the same key with another body 422 "
    "IDEMPOTENCY_MISMATCH; while the first still runs 409 IDEMPOTENCY_IN_FLIGHT",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
}
SECURITY_SCHEMES: Schema = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "Bearer": {"type": "http", "scheme": "bearer", "description": "The same key as `X-API-Key`"},
}


@dataclass(frozen=True)
class DoorDocs:
    """What one door's routes answer besides their success and the rules every route follows."""

    prefixes: Sequence[str]  # the door's paths are these or under them
    envelope: type[msgspec.Struct]  # its error body
    # (method, path template) -> the error statuses that route answers beyond the rules
    errors: Mapping[tuple[str, str], Sequence[int]]
    # what the door's guards answer on each of its guarded routes (an `organization_id` that is not
    # the key's: 403; an unknown or repeated query parameter: 422)
    always: Sequence[int] = (403, 422)
    # request bodies that refuse unknown properties
    strict: Sequence[type[msgspec.Struct]] = ()
    security: Sequence[str] = ("ApiKey", "Bearer")
    # (method, path template) of the routes that take an `Idempotency-Key`
    idempotent: Sequence[tuple[str, str]] = ()
    extra: Callable[[Schema], None] | None = field(default=None)

    def owns(self, path: str) -> int:
        """How closely the door claims `path`: the length of its longest prefix of it, else -1."""
        found = [len(p) for p in self.prefixes if path == p or path.startswith(p + "/")]
        return max(found, default=-1)


@dataclass(frozen=True)
class Operation:
    """One method of one route, as the app serves it."""

    method: str  # lower case, as in the document
    path: str  # the document's path template
    guarded: bool
    path_parameters: bool


def operations(app: Litestar) -> Iterator[Operation]:
    """Every documented method of every HTTP route of the app."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            for method in handler.http_methods:
                yield Operation(
                    method=method.lower(),
                    path=route.path_format,
                    guarded=bool(handler.resolve_guards()),
                    path_parameters=bool(route.path_parameters),
                )


def component(schema: Schema, struct: type) -> Schema:
    """A `$ref` to the component Litestar made for `struct` (named by the struct, or, where two
    structs share a name, by as much of its module path as tells them apart)."""
    name = _component_name(schema["components"]["schemas"], struct)
    if name is None:
        raise KeyError(f"no component for {struct.__qualname__}")
    return {"$ref": _REF.format(name=name)}


def _component_name(schemas: Schema, struct: type) -> str | None:
    full = f"{struct.__module__}.{struct.__qualname__}".replace(".", "_")
    names = [k for k in schemas if k == struct.__name__ or full.endswith("_" + k)]
    return max(names, key=len) if names else None


def event_stream(summary: str, events: Sequence[tuple[str, str, Schema]]) -> Schema:
    """The `text/event-stream` media type of a streamed answer: its events (name, when it is sent,
    the schema of its `data:` JSON) in the description, and as `x-events` by name."""
    lines = [summary, "", "| event | sent | data |", "|---|---|---|"]
    for name, when, data in events:
        lines.append(f"| `{name}` | {when} | {_fields(data)} |")
    return {
        "schema": {"type": "string", "description": "\n".join(lines)},
        "x-events": {name: data for name, _, data in events},
    }


def _fields(data: Schema) -> str:
    """The fields of an event's data, for the table of a stream's description."""
    named = [f"`{k}`" for part in (data, *data.get("allOf", ())) for k in part.get("properties", {})]
    refs = [p["$ref"].rsplit("/", 1)[-1] for p in data.get("allOf", ()) if "$ref" in p]
    return ", ".join([*(f"the fields of {r}" for r in refs), *named])


def event(name: str, properties: Schema, required: Sequence[str] = ()) -> Schema:
    """The schema of one event's `data:` JSON, whose `type` is the event's name."""
    return {
        "type": "object",
        "title": name,
        "properties": {"type": {"const": name}, **properties},
        "required": ["type", *required],
    }


def _error(status: int, envelope: Schema) -> Schema:
    answer: Schema = {
        "description": _REASONS.get(status, "Error"),
        "content": {"application/json": {"schema": envelope}},
    }
    if status in (409, 429, 503):
        answer["headers"] = {"Retry-After": {"$ref": _HEADER.format(name="Retry-After")}}
    if status == 429:
        answer["headers"].update({name: {"$ref": _HEADER.format(name=name)} for name in _RATE})
    return answer


def _is_litestars_400(answer: Schema) -> bool:
    """Litestar's own 400: its `ValidationException` body, which no door sends."""
    found = answer.get("content", {}).get("application/json", {}).get("schema", {})
    return found.get("description") == "Validation Exception" or {"status_code", "detail", "extra"} <= set(
        found.get("properties", {})
    )


def refine(app: Litestar, doors: Sequence[DoorDocs]) -> None:
    """Finish the app's OpenAPI document in place (it is generated once and served from memory)."""
    _refine(app, app.plugins.get(OpenAPIPlugin).provide_openapi_schema(), doors)


def refine_lazily(app: Litestar, doors: Sequence[DoorDocs]) -> None:
    """`refine`, the first time the document is asked for (a page of the docs, `openapi.json`).

    Generating the document is most of what building the app costs (about two thirds: some 250 ms
    here), and a worker, or a test's app, that is never asked for it should not pay for it.
    """
    plugin = app.plugins.get(OpenAPIPlugin)
    if type(plugin) is not OpenAPIPlugin:
        raise TypeError(f"the app's OpenAPI plugin is a {type(plugin).__name__}")
    _PENDING[app] = tuple(doors)
    plugin.__class__ = _RefinedOnDemand  # the same slots: the routes Litestar made call it


_PENDING: weakref.WeakKeyDictionary[Litestar, tuple[DoorDocs, ...]] = weakref.WeakKeyDictionary()


class _RefinedOnDemand(OpenAPIPlugin):
    __slots__ = ()

    def provide_openapi_schema(self) -> dict[str, Any]:
        fresh = not self._openapi_schema
        schema = super().provide_openapi_schema()
        doors = _PENDING.pop(self.app, None) if fresh else None
        if doors is not None:
            try:
                _refine(self.app, schema, doors)
            except BaseException:
                self._openapi_schema = None  # made again, whole, by the next caller
                _PENDING[self.app] = doors
                raise
        return schema


def _refine(app: Litestar, schema: Schema, doors: Sequence[DoorDocs]) -> None:
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    components.setdefault("headers", {}).update(_HEADERS)
    components.setdefault("parameters", {})["Idempotency-Key"] = _IDEMPOTENCY_KEY
    envelopes: list[Schema] = []
    for door in doors:
        _, defs = msgspec.json.schema_components([door.envelope], ref_template=_REF)
        schemas.update(defs)
        envelopes.append({"$ref": _REF.format(name=door.envelope.__name__)})
        for struct in door.strict:
            name = _component_name(schemas, struct)
            if name is not None:
                schemas[name]["additionalProperties"] = False
        if door.extra is not None:
            door.extra(schema)
    paths = schema.get("paths", {})
    for op in operations(app):
        operation = paths.get(op.path, {}).get(op.method)
        if operation is None:
            continue
        claims = [door.owns(op.path) for door in doors]
        at = max(range(len(doors)), key=claims.__getitem__)
        in_door = claims[at] >= 0
        if not in_door:
            at = 0  # outside every door: the first door's envelope, as the app's exception handler
        _finish(operation, op, doors[at], in_door=in_door, envelope=envelopes[at])
    ready = paths.get("/health/ready", {}).get("get")
    if ready is not None and "200" in ready.get("responses", {}):
        ok = ready["responses"]["200"]
        ready["responses"]["503"] = {**ok, "description": "The store does not answer (the same body)"}


def _finish(operation: Schema, op: Operation, door: DoorDocs, *, in_door: bool, envelope: Schema) -> None:
    responses: Schema = operation.setdefault("responses", {})
    if "400" in responses and _is_litestars_400(responses["400"]):
        del responses["400"]
    statuses: set[int] = set(door.errors.get((op.method.upper(), op.path), ()))
    if op.guarded:
        statuses.update(AUTHENTICATED)
        if in_door:
            statuses.update(door.always)
        if not operation.get("security"):
            operation["security"] = [{name: []} for name in door.security]
    else:
        operation["security"] = []
    if op.path_parameters:
        statuses.add(404)
    if "requestBody" in operation:
        statuses.update((413, 422))
    if operation.get("parameters"):
        statuses.add(422)  # a parameter out of its bounds
    idempotent = in_door and (op.method.upper(), op.path) in door.idempotent
    if idempotent:
        statuses.update((409, 422))
        operation.setdefault("parameters", []).append({"$ref": "#/components/parameters/Idempotency-Key"})
    for status in sorted(statuses):
        responses[str(status)] = _error(status, envelope)
    for code, answer in responses.items():
        headers = answer.setdefault("headers", {})
        headers["X-Request-ID"] = {"$ref": _HEADER.format(name="X-Request-ID")}
        if op.guarded and code.startswith("2"):
            headers.update({name: {"$ref": _HEADER.format(name=name)} for name in _RATE})
        if idempotent and code.startswith("2"):
            headers["Idempotent-Replayed"] = {"$ref": _HEADER.format(name="Idempotent-Replayed")}
