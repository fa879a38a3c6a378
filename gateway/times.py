"""Times as every door shows them: RFC 3339 UTC with milliseconds (`2026-01-06T10:30:00.000Z`)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime


def iso(us: int) -> str:
    """`us` (microseconds since the epoch) as RFC 3339 UTC with milliseconds."""
    seconds, rest = divmod(us, 1_000_000)
    return f"{_second(seconds)}.{rest // 1000:03d}Z"


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    # Answers made in the same second share this part (several times an answer, most answers).
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
