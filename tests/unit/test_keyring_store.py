"""The KeyRing's snapshot of the store's keys (SPEC §15)."""

from __future__ import annotations

import asyncio
import hashlib

from gateway.http.auth import KeyRing
from gateway.store.protocols import KeyRecord


class FakeKeys:
    def __init__(self) -> None:
        self.live: dict[bytes, tuple[str, str]] = {}
        self.version = 0
        self.touched: list[list[str]] = []
        self.finds = 0

    def add(self, key: str, kid: str, org: str) -> None:
        self.put(KeyRecord(id=kid, org=org, name=None, created_us=0), hashlib.sha256(key.encode()).digest())

    def put(self, record: KeyRecord, digest: bytes) -> None:
        self.live[digest] = (record.id, record.org)
        self.version += 1

    def revoke(self, kid: str) -> None:
        self.live = {h: v for h, v in self.live.items() if v[0] != kid}
        self.version += 1

    async def create_key(self, record: KeyRecord, digest: bytes) -> None:
        self.put(record, digest)

    async def list_keys(self, org: str | None) -> list[KeyRecord]:
        return []

    async def revoke_key(self, key_id: str, at_us: int) -> bool:
        return False

    async def keys_marker(self) -> tuple[int, int]:
        return len(self.live), self.version

    async def live_keys(self) -> dict[bytes, tuple[str, str]]:
        return dict(self.live)

    async def find_key(self, digest: bytes) -> tuple[str, str] | None:
        self.finds += 1
        return self.live.get(digest)

    async def touch_keys(self, key_ids: list[str], at_us: int) -> None:
        self.touched.append(key_ids)


def test_snapshot_follows_the_store_and_env_keys_stay() -> None:
    async def go() -> None:
        store = FakeKeys()
        store.add("sk-store", "key_1", "org_s")
        ring = KeyRing({"sk-env": "org_e"}, store)
        await ring.refresh()
        assert ring.organization("sk-store") == "org_s"
        assert ring.organization("sk-env") == "org_e"
        store.add("sk-new", "key_2", "org_n")
        assert ring.organization("sk-new") is None  # not yet in the snapshot
        assert await ring.resolve("sk-new") == "org_n"  # one look in the store
        assert await ring.resolve("sk-nobody") is None
        store.revoke("key_1")
        await ring.refresh()
        assert ring.organization("sk-store") is None
        assert await ring.resolve("sk-store") is None
        assert ring.organization("sk-env") == "org_e"

    asyncio.run(go())


def test_last_used_is_written_once_a_minute_off_the_request() -> None:
    async def go() -> None:
        store = FakeKeys()
        store.add("sk-store", "key_1", "org_s")
        ring = KeyRing({}, store)
        await ring.refresh()
        for _ in range(5):
            assert ring.organization("sk-store") == "org_s"
        assert store.touched == []  # nothing written on the request path
        await ring.refresh()
        ring.organization("sk-store")
        await ring.refresh()
        assert store.touched == [["key_1"]]

    asyncio.run(go())
