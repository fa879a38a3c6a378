"""Turn leases of the embedded store: byte-range locks of one file next to the database.

Every worker process of the embedded store runs on this one host, so the kernel's record locks
(`fcntl`) are the lease: non-blocking to take, released by the kernel the moment a process dies
(a killed worker blocks nobody), and cost two system calls a turn. A thread's byte is at an offset
drawn from a hash of its key (56 bits: two threads sharing one is not to be expected). Record locks
belong to a process, so tasks of one process are kept apart by `gateway.store.locks` in front.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import itertools
import os

from gateway.errors import StoreUnavailable
from gateway.store.protocols import TurnLease


@functools.lru_cache(maxsize=4096)  # a turn's acquire and release ask for the same one
def _offset(org: str, thread_id: str) -> int:
    digest = hashlib.blake2b(f"{org}\0{thread_id}".encode("utf-8", "surrogatepass"), digest_size=7).digest()
    return int.from_bytes(digest)


class FileLocks:
    """`SharedLocks` over a lock file (made on `open`)."""

    renews = False  # a record lock lasts as long as its process

    def __init__(self, path: str) -> None:
        self._path = path
        self._fd: int | None = None
        self._tokens = itertools.count(1)

    def open(self) -> None:
        directory = os.path.dirname(self._path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        # Closing any descriptor of the file would drop all of this process's locks on it: one
        # descriptor, open for the life of the store.
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _descriptor(self) -> int:
        if self._fd is None:
            raise StoreUnavailable("The thread store is not open.")
        return self._fd

    async def try_acquire(self, org: str, thread_id: str, *, ttl_s: float) -> TurnLease | None:
        try:
            fcntl.lockf(self._descriptor(), fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _offset(org, thread_id))
        except (BlockingIOError, PermissionError):  # EAGAIN or EACCES: another process holds it
            return None
        return TurnLease(org=org, thread_id=thread_id, token=next(self._tokens))

    async def renew(self, lease: TurnLease, *, ttl_s: float) -> bool:
        return self._fd is not None  # a record lock lasts as long as its process: nothing to renew

    async def release(self, lease: TurnLease) -> None:
        if self._fd is not None:
            fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, _offset(lease.org, lease.thread_id))
