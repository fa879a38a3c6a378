"""Random ids (`thread_…`, `resp_…`, `msg_…`, `req_…`) from the OS's CSPRNG, drawn in bulk.

A `getrandom` call per id was a measurable share of a turn's time (several ids a turn, and each
call gives up the GIL); one call per 4 KiB serves about 340 ids with the same randomness.
"""

from __future__ import annotations

import os
import threading

_CHUNK = 4096
_ID_BYTES = 12


class _Pool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buf = b""
        self._pos = 0
        self._pid = 0

    def take(self, n: int) -> bytes:
        with self._lock:
            # A forked worker must not reuse its parent's bytes.
            if self._pos + n > len(self._buf) or self._pid != os.getpid():
                self._buf, self._pos, self._pid = os.urandom(_CHUNK), 0, os.getpid()
            out = self._buf[self._pos : self._pos + n]
            self._pos += n
            return out


_pool = _Pool()


def new_id(prefix: str) -> str:
    """`prefix_` and 24 hex digits (96 random bits)."""
    return f"{prefix}_{_pool.take(_ID_BYTES).hex()}"
