"""API keys kept in the store (SPEC §15): how one is made, the one rule the CLI and the admin API
share. Only the key's SHA-256 digest is ever stored; the key itself is shown once, to its maker."""

from __future__ import annotations

import hashlib
import re
import secrets

import msgspec

from gateway.store.protocols import KeyRecord

# An organization id a stored key may name: the characters of a thread id (SPEC §4.1), so that it
# prints on one line and needs no quoting anywhere.
ORG_PATTERN = r"^[A-Za-z0-9_.:\-]{1,128}$"
# A key's name: up to 200 characters, no control characters (the CLI prints it in a tab-separated line).
NAME_MAX = 200
NAME_PATTERN = r"^[^\x00-\x1f\x7f]*$"
_ORG = re.compile(ORG_PATTERN)
_NAME = re.compile(NAME_PATTERN)


class NewKey(msgspec.Struct, frozen=True, kw_only=True):
    key: str  # shown once, never stored
    digest: bytes
    record: KeyRecord


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def valid_org(org: str) -> bool:
    return _ORG.fullmatch(org) is not None


def valid_name(name: str) -> bool:
    return 0 < len(name) <= NAME_MAX and _NAME.fullmatch(name) is not None


def mint(org: str, name: str | None, at_us: int) -> NewKey:
    """A new random key (256 bits) for `org`, with its record and digest."""
    key = "gwk_" + secrets.token_urlsafe(32)
    record = KeyRecord(id="key_" + secrets.token_hex(8), org=org, name=name, created_us=at_us)
    return NewKey(key=key, digest=digest(key), record=record)
