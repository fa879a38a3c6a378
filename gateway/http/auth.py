"""Authentication by key (SPEC §2) for every door: `X-API-Key` or `Authorization: Bearer`; each key
names one organization."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterable, Mapping
from typing import Any

import structlog
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard, Message, Scope

from gateway.errors import AuthenticationRequired, InvalidApiKey, OrganizationAccessDenied, ValidationFailed
from gateway.ratelimit import Limiter
from gateway.store.protocols import KeyStore

_log = structlog.get_logger(__name__)
_TOUCH_EVERY_US = 60_000_000  # `last_used` written at most once a minute per key


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class KeyRing:
    """Keys are held only as SHA-256 digests, so no key sits in memory in a loggable form.

    The environment's keys, plus a snapshot of the store's keys not revoked (`source`), reloaded by
    `run` whenever the store's change marker moves, so a revocation holds within a second on every
    worker and replica. The lookup of a request stays synchronous and cheap.

    `limiter`: the keys' rate limits (SPEC §15), checked wherever a key is (the guard, the fast
    paths); None when no limit is set, and then nothing is checked.
    """

    def __init__(
        self, keys: Mapping[str, str], source: KeyStore | None = None, *, limiter: Limiter | None = None
    ) -> None:
        self._orgs = {_digest(k): org for k, org in keys.items()}
        self._source = source
        self.limiter = limiter
        self._stored: dict[bytes, tuple[str, str]] = {}
        self._marker: tuple[int, int] | None = None
        self._used: dict[str, int] = {}  # key id -> when last written as used (µs)
        self._pending: set[str] = set()

    def organization(self, key: str) -> str | None:
        digest = _digest(key)
        org = self._orgs.get(digest)
        if org is not None:
            return org
        stored = self._stored.get(digest)
        if stored is None:
            return None
        self._note_use(stored[0])
        return stored[1]

    async def resolve(self, key: str) -> str | None:
        """`organization`, else one look in the store (a key created since the last snapshot)."""
        org = self.organization(key)
        if org is not None or self._source is None:
            return org
        try:
            found = await self._source.find_key(_digest(key))
        except Exception:  # noqa: BLE001 - the store unreachable: the key is not known
            return None
        if found is None:
            return None
        self._stored[_digest(key)] = found
        self._note_use(found[0])
        return found[1]

    def _note_use(self, key_id: str) -> None:
        now = int(time.time() * 1_000_000)
        if now - self._used.get(key_id, 0) >= _TOUCH_EVERY_US:
            self._used[key_id] = now
            self._pending.add(key_id)

    async def refresh(self) -> None:
        """Reload the snapshot when the store's marker moved; write the keys used since last time."""
        if self._source is None:
            return
        marker = await self._source.keys_marker()
        if marker != self._marker:
            self._stored = await self._source.live_keys()
            self._marker = marker
        if self._pending:
            used, self._pending = sorted(self._pending), set()
            await self._source.touch_keys(used, int(time.time() * 1_000_000))

    async def run(self, interval_s: float = 0.25) -> None:
        """The background task of a worker: `refresh` every `interval_s` until cancelled."""
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the store unreachable a moment: the last snapshot stands
                _log.warning("key_refresh_failed", error=type(exc).__name__)
            await asyncio.sleep(interval_s)


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


RATE_HEADERS = "rate_limit_headers"  # the scope's state: the X-RateLimit-* headers of the answer


async def rate_limit_headers(message: Message, scope: Scope) -> None:
    """A `before_send` hook (only when limits are set): the `X-RateLimit-*` headers the guard found
    added to the answer; a refusal carries its own."""
    if message["type"] != "http.response.start":
        return
    found: dict[str, str] | None = scope.get("state", {}).get(RATE_HEADERS)
    if found:
        message["headers"] = [
            *message.get("headers", ()),
            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in found.items()),
        ]


def authenticate(keyring: KeyRing) -> Guard:
    """The guard of every route but health: sets `connection.state.org` and the log's organization,
    and counts the request against its key's rate limits when they are set."""
    limiter = keyring.limiter

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        key = presented_key(connection.scope["headers"])
        if key is None:
            raise AuthenticationRequired(
                "An API key is required: send `X-API-Key` or `Authorization: Bearer`."
            )
        org = await keyring.resolve(key)
        if org is None:
            raise InvalidApiKey("The API key is not valid.")
        connection.state.org = org
        structlog.contextvars.bind_contextvars(organization_id=org)
        if limiter is not None:
            connection.scope["state"][RATE_HEADERS] = await limiter.admit(key)
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
