"""The admin API (SPEC §15): API keys kept in the store, managed over HTTP behind `GATEWAY_ADMIN_KEY`.

- `POST /admin/keys` `{"organizationId" | "organization_id", "name"?}`: 201, the new key shown this
  once beside its record (only the key's SHA-256 digest is stored).
- `GET /admin/keys[?organizationId=|?organization_id=]`: every key's record (revoked ones too),
  oldest first, never a key.
- `DELETE /admin/keys/{id}`: revoked, 204 (again 204 for a key already revoked); 404 when unknown.

The admin key is sent as any key is (`Authorization: Bearer` or `X-API-Key`) and compared in
constant time. It is no organization's key: an organization's key answers 401 here, and the admin
key answers 401 on the doors. Without an admin key configured these routes are not registered at
all, so they answer 404 like any unknown path. Errors are in the native door's envelope (SPEC §8),
the app's handler for every path outside the other doors.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from litestar import Response, Router, delete, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, JSONBody, QueryParameter

from gateway import errors
from gateway.core.keys import NAME_MAX, NAME_PATTERN, ORG_PATTERN, mint
from gateway.doors.freddy.errors import ErrorEnvelope
from gateway.http.auth import presented_key
from gateway.http.openapi import DoorDocs
from gateway.http.query import refuse_unknown_query
from gateway.store.protocols import KeyRecord, KeyStore
from gateway.times import iso

Org = Annotated[str, msgspec.Meta(pattern=ORG_PATTERN)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN)]
OrgQuery = Annotated[str | None, QueryParameter(pattern=ORG_PATTERN, description="only its keys")]


class KeyCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    organization_id: Org | None = None
    organization_id_camel: Org | None = msgspec.field(default=None, name="organizationId")
    name: Name | None = None


class KeyObject(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: str = "api_key"
    organization_id: str
    name: str | None
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class CreatedKey(KeyObject, frozen=True, kw_only=True):
    key: str  # shown only in this answer


class KeyList(msgspec.Struct, frozen=True, kw_only=True):
    object: str = "list"
    data: list[KeyObject]


class Admin(msgspec.Struct, frozen=True):
    keys: KeyStore
    clock: Callable[[], int]


def _when(us: int | None) -> str | None:
    return None if us is None else iso(us)


def _fields(r: KeyRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "organization_id": r.org,
        "name": r.name,
        "created_at": iso(r.created_us),
        "last_used_at": _when(r.last_used_us),
        "revoked_at": _when(r.revoked_us),
    }


def _one_org(*given: str | None) -> str | None:
    named = {g for g in given if g is not None}
    if len(named) > 1:
        raise errors.ConflictingParameters(
            "`organization_id` and `organizationId` name different organizations."
        )
    return next(iter(named), None)


def admin_guard(admin_key: str) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]:
    """401 unless the request carries the admin key (compared by digest, in constant time)."""
    expected = hashlib.sha256(admin_key.encode()).digest()

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        key = presented_key(connection.scope["headers"])
        if key is None:
            raise errors.AuthenticationRequired(
                "The admin key is required: send `Authorization: Bearer` or `X-API-Key`."
            )
        if not hmac.compare_digest(hashlib.sha256(key.encode()).digest(), expected):
            raise errors.InvalidApiKey("The key is not the admin key.")

    return guard


@post("/keys", status_code=201, summary="Create an API key (shown once)")
async def create_key(admin: NamedDependency[Admin], data: JSONBody[KeyCreate]) -> Response[CreatedKey]:
    org = _one_org(data.organization_id, data.organization_id_camel)
    if org is None:
        raise errors.ValidationFailed(
            "`organizationId` (or `organization_id`) is required.", details={"field": "organizationId"}
        )
    made = mint(org, data.name, admin.clock())
    await admin.keys.create_key(made.record, made.digest)
    # The one answer that holds a key: no cache may keep it.
    created = CreatedKey(**_fields(made.record), key=made.key)
    return Response(created, status_code=201, headers={"Cache-Control": "no-store"})


@get("/keys", summary="List API keys (never the keys themselves)")
async def list_keys(
    admin: NamedDependency[Admin],
    organization_id: OrgQuery = None,
    organization_id_camel: Annotated[
        str | None, QueryParameter(name="organizationId", pattern=ORG_PATTERN, description="the same")
    ] = None,
) -> KeyList:
    org = _one_org(organization_id, organization_id_camel)
    return KeyList(data=[KeyObject(**_fields(r)) for r in await admin.keys.list_keys(org)])


@delete("/keys/{key_id:str}", status_code=204, summary="Revoke an API key")
async def revoke_key(admin: NamedDependency[Admin], key_id: FromPath[str]) -> None:
    if await admin.keys.revoke_key(key_id, admin.clock()):
        return
    # Not revoked now: revoked before (the same outcome, 204 again) or no such key.
    if not any(r.id == key_id for r in await admin.keys.list_keys(None)):
        raise errors.NotFound(f"API key '{key_id[:128]}' was not found.")


def admin_router(admin_key: str, keys: KeyStore, clock: Callable[[], int]) -> Router:
    """The admin API's routes, guarded by `admin_key`."""
    admin = Admin(keys, clock)
    return Router(
        path="/admin",
        route_handlers=[create_key, list_keys, revoke_key],
        guards=[admin_guard(admin_key), refuse_unknown_query],
        dependencies={"admin": Provide(lambda: admin, use_cache=True, sync_to_thread=False)},
        tags=["admin"],
    )


def admin_routes(admin_key: str | None, keys: KeyStore | None, clock: Callable[[], int]) -> list[Router]:
    """The admin router when an admin key is set, else nothing (its paths answer 404)."""
    if admin_key is None:
        return []
    if keys is None:
        raise ValueError("GATEWAY_ADMIN_KEY is set but the store keeps no API keys")
    return [admin_router(admin_key, keys, clock)]


# For the OpenAPI document (when the routes are there): errors in the native envelope; 400 for two
# organizations named at once; no organization claim to refuse (403), unknown queries 422.
ADMIN_DOCS = DoorDocs(
    prefixes=("/admin",),
    envelope=ErrorEnvelope,
    errors={("POST", "/admin/keys"): (400,), ("GET", "/admin/keys"): (400,)},
    always=(422,),
    strict=(KeyCreate,),
)
