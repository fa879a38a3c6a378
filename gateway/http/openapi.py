"""The OpenAPI document as the gateway really answers, finished after Litestar generated it.

Litestar documents its own 400 and nothing of a route's other errors, does not know that a
msgspec Struct with `forbid_unknown_fields` refuses other properties, and cannot give one answer
two media types. Each door says here what its routes answer (`DoorDocs`): its error envelope for
each status a route can give, its strict request bodies, and any fix of its own (a door's
`extra`). Schemathesis checks the document against the running gateway in the suite.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin

Schema = dict[str, Any]
_REF = "#/components/schemas/{name}"
_REASONS = {
    400: "The request contradicts itself",
    401: "No key, or an unknown key",
    403: "Another organization named",
    404: "Not found (or another organization's)",
    409: "Conflicts with the state of the resource",
    413: "The body is too large",
    422: "The request is not valid",
    429: "Rate limited (Retry-After)",
    500: "Internal error",
    502: "The provider failed",
    503: "A dependency is unavailable",
    504: "The provider did not answer in time",
}


@dataclass(frozen=True)
class DoorDocs:
    """What one door's routes answer besides their success."""

    prefix: str  # the door's paths start with it
    envelope: type[msgspec.Struct]  # its error body
    # (method, path template) -> the error statuses that route can answer
    errors: Mapping[tuple[str, str], Sequence[int]]
    # request bodies that refuse unknown properties
    strict: Sequence[type[msgspec.Struct]] = ()
    security: Sequence[str] = ("ApiKey", "Bearer")
    extra: Callable[[Schema], None] | None = field(default=None)


def refine(app: Litestar, doors: Sequence[DoorDocs]) -> None:
    """Finish the app's OpenAPI document in place (it is generated once and served from memory)."""
    schema: Schema = app.plugins.get(OpenAPIPlugin).provide_openapi_schema()
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    components["securitySchemes"] = {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "Bearer": {"type": "http", "scheme": "bearer"},
    }
    for door in doors:
        _, defs = msgspec.json.schema_components([door.envelope], ref_template=_REF)
        schemas.update(defs)
        envelope = {"$ref": _REF.format(name=door.envelope.__name__)}
        for struct in door.strict:
            found = schemas.get(struct.__name__)
            if found is not None:
                found["additionalProperties"] = False
        for path, item in schema.get("paths", {}).items():
            if not path.startswith(door.prefix):
                continue
            for method, operation in item.items():
                statuses = door.errors.get((method.upper(), path))
                if statuses is None:
                    continue
                responses = operation.setdefault("responses", {})
                responses.pop("400", None)  # Litestar's own; a door documents what it answers
                for status in statuses:
                    responses[str(status)] = {
                        "description": _REASONS.get(status, "Error"),
                        "content": {"application/json": {"schema": envelope}},
                    }
                operation["security"] = [{name: []} for name in door.security]
        if door.extra is not None:
            door.extra(schema)
