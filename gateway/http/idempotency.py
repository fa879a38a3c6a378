"""The `Idempotency-Key` header of a turn, for every door (SPEC §15, Stripe's semantics)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import msgspec

from gateway.errors import ValidationFailed

HEADER = b"idempotency-key"
# Visible ASCII, as Stripe's keys (UUIDs, random strings); bounded like every other input.
_KEY = re.compile(r"^[\x21-\x7e]{1,255}\Z")
_encode = msgspec.json.Encoder().encode


def idempotency_key(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The request's key (the first header of that name), or None; 422 when malformed."""
    for name, value in headers:
        if name == HEADER:
            key = value.decode("latin-1").strip()
            if not _KEY.fullmatch(key):
                raise ValidationFailed("`Idempotency-Key` must be 1 to 255 visible ASCII characters.")
            return key
    return None


def fingerprint(route: str, body: msgspec.Struct) -> str:
    """What makes two requests the same one: the route and the decoded body (its canonical JSON, so
    that spacing and key order do not count)."""
    return hashlib.sha256(route.encode() + b"\n" + _encode(body)).hexdigest()
