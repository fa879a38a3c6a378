"""Query parameters a route does not know are refused (422), for every door: a misspelt `limt` or a
parameter of another API is reported instead of silently ignored (SPEC §10)."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import ParamType
from litestar.handlers.base import BaseRouteHandler
from litestar.params import ParameterKwarg

from gateway.errors import ValidationFailed

# Every route takes the organization its key belongs to (SPEC §2).
ALWAYS = frozenset({"organization_id"})


def route_query(handler: BaseRouteHandler) -> frozenset[str]:
    """The query parameters a route handler declares (`QueryParameter`, `FromQuery`)."""
    names = set(ALWAYS)
    # An injected dependency (`services`) is no query parameter, whatever its signature says.
    dependencies = handler.resolve_dependencies()
    for name, parsed in handler.parsed_fn_signature.parameters.items():
        if name in dependencies:
            continue
        kwarg = parsed.kwarg_definition
        if isinstance(kwarg, ParameterKwarg) and kwarg.param_type is ParamType.QUERY:
            names.add(kwarg.name or kwarg.query or name)
    return frozenset(names)


def refuse_unknown_query(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Raise 422 for the first query parameter the route does not declare."""
    query = connection.query_params
    if not query:
        return
    known = route_query(handler)
    unknown = sorted(k for k in query if k not in known)
    if unknown:
        raise ValidationFailed(
            f"The query parameter `{unknown[0]}` is not known here.",
            details={"unknown": unknown[:20], "known": sorted(known)},
        )
