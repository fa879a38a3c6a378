"""Authentication by key (SPEC §2) for every door: `X-API-Key` or `Authorization: Bearer`; each key
names one organization."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import structlog
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from gateway.errors import AuthenticationRequired, InvalidApiKey, OrganizationAccessDenied, ValidationFailed


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class KeyRing:
    """Keys are held only as SHA-256 digests, so no key sits in memory in a loggable form."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        self._orgs = {_digest(k): org for k, org in keys.items()}

    def organization(self, key: str) -> str | None:
        return self._orgs.get(_digest(key))


def presented_key(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The key of a request's raw (ASGI) headers: `X-API-Key`, else `Authorization: Bearer`.

    Read from the raw headers so that the framework's routes and the fast paths see exactly the
    same key. The first of repeated headers counts.
    """
    api_key = authorization = None
    for name, value in headers:
        if name == b"x-api-key" and api_key is None:
            api_key = value.decode("latin-1")
        elif name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
    if api_key:
        return api_key.strip()
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def check_organization(claimed: str | None, org: str) -> None:
    """A request naming an organization other than its key's is refused (403)."""
    if claimed is not None and claimed != org:
        raise OrganizationAccessDenied("This API key does not give access to that organization.")


def authenticate(keyring: KeyRing) -> Guard:
    """The guard of every route but health: sets `connection.state.org` and the log's organization."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        key = presented_key(connection.scope["headers"])
        if key is None:
            raise AuthenticationRequired(
                "An API key is required: send `X-API-Key` or `Authorization: Bearer`."
            )
        org = keyring.organization(key)
        if org is None:
            raise InvalidApiKey("The API key is not valid.")
        connection.state.org = org
        structlog.contextvars.bind_contextvars(organization_id=org)
        query = connection.query_params
        repeated = sorted({k for k in query if len(query.getall(k)) > 1})
        if repeated:
            # A repeated parameter has no one meaning (which value would the checks see?): refused.
            raise ValidationFailed(
                f"The query parameter `{repeated[0]}` is given more than once.",
                details={"parameters": repeated[:20]},
            )
        check_organization(query.get("organization_id"), org)

    return guard
