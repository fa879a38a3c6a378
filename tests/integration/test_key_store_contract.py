"""The key store's contract (`KeyStore`, SPEC §15), the same tests on every backend: the embedded
SQLite store and the MongoDB store (mongoeco's wire server, or GATEWAY_TEST_MONGODB_URI). Two store
objects over one database stand for two replicas."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
import pytest
from pymongo.errors import DuplicateKeyError

from gateway.core.keys import digest, mint
from gateway.serve import startup_line
from gateway.settings import load_settings
from gateway.store.mongo.database import MongoDatabase
from gateway.store.mongo.store import MongoStore
from gateway.store.protocols import KeyStore
from gateway.store.sqlite.store import SqliteStore
from tests.integration.store_contract.helpers import LIMITS, T0
from tests.services import free_port, mongo_uri

Opener = Callable[[], AbstractAsyncContextManager[KeyStore]]


@pytest.fixture
async def sqlite_opener(tmp_path: Path) -> AsyncIterator[Opener]:
    path = str(tmp_path / "db" / "gateway.sqlite3")

    @asynccontextmanager
    async def open_one() -> AsyncIterator[KeyStore]:
        s = SqliteStore(path, LIMITS)
        await s.open()
        try:
            yield s.keys
        finally:
            await s.close()

    yield open_one


@pytest.fixture
async def mongo_opener() -> AsyncIterator[Opener]:
    async with mongo_uri() as uri:
        database = f"gw_{uuid.uuid4().hex[:8]}"

        @asynccontextmanager
        async def open_one() -> AsyncIterator[KeyStore]:
            s = MongoStore(MongoDatabase(uri, LIMITS, database=database, timeout_s=30))
            await s.open()
            try:
                yield s.keys
            finally:
                await s.close()

        yield open_one


@pytest.fixture(params=["sqlite_opener", "mongo_opener"])
def opener(request: pytest.FixtureRequest) -> Opener:
    """Opens a store of the backend; every store opened shares one database."""
    found: Opener = request.getfixturevalue(request.param)
    return found


async def test_a_created_key_is_found_by_its_digest_and_listed_without_it(opener: Opener) -> None:
    made = mint("org_a", "ci robot", T0)
    other = mint("org_b", None, T0 + 1)
    async with opener() as keys:
        await keys.create_key(made.record, made.digest)
        await keys.create_key(other.record, other.digest)
        assert await keys.find_key(digest(made.key)) == (made.record.id, "org_a")
        assert await keys.find_key(digest(other.key)) == (other.record.id, "org_b")
        assert await keys.find_key(digest(made.key + "x")) is None
        assert await keys.list_keys(None) == [made.record, other.record]
        assert await keys.list_keys("org_a") == [made.record]
        assert await keys.list_keys("org_c") == []
        assert await keys.live_keys() == {
            made.digest: (made.record.id, "org_a"),
            other.digest: (other.record.id, "org_b"),
        }


async def test_a_revoked_key_is_found_no_more_and_listed_as_revoked(opener: Opener) -> None:
    made, kept = mint("org_a", "old", T0), mint("org_a", "new", T0 + 1)
    async with opener() as keys:
        await keys.create_key(made.record, made.digest)
        await keys.create_key(kept.record, kept.digest)
        assert await keys.revoke_key(made.record.id, T0 + 5) is True
        assert await keys.find_key(made.digest) is None
        assert await keys.live_keys() == {kept.digest: (kept.record.id, "org_a")}
        listed = {k.id: k for k in await keys.list_keys("org_a")}
        assert listed[made.record.id].revoked_us == T0 + 5
        assert listed[kept.record.id].revoked_us is None
        # Once only; an unknown id is no key to revoke.
        assert await keys.revoke_key(made.record.id, T0 + 6) is False
        assert await keys.revoke_key("key_unknown", T0 + 6) is False
        assert {k.id: k.revoked_us for k in await keys.list_keys(None)}[made.record.id] == T0 + 5


async def test_the_marker_moves_with_every_create_and_revoke_seen_from_another_replica(
    opener: Opener,
) -> None:
    async with opener() as writer, opener() as reader:
        start = await reader.keys_marker()
        assert await reader.keys_marker() == start  # nothing changed, nothing to reload
        made = mint("org_a", None, T0)
        await writer.create_key(made.record, made.digest)
        created = await reader.keys_marker()
        assert created != start
        assert made.digest in await reader.live_keys()
        await writer.touch_keys([made.record.id], T0 + 60_000_000)
        assert await reader.keys_marker() == created  # being used is no change of the keys
        assert (await reader.list_keys(None))[0].last_used_us == T0 + 60_000_000
        later = mint("org_b", None, T0 + 100_000_000)
        await writer.create_key(later.record, later.digest)
        both = await reader.keys_marker()
        assert both != created
        # A revocation stamped before the newest change (another machine's clock, a clock set
        # back) moves it all the same.
        assert await writer.revoke_key(made.record.id, T0 - 10_000_000)
        assert await reader.keys_marker() not in (start, created, both)
        assert await reader.live_keys() == {later.digest: (later.record.id, "org_b")}


async def test_two_keys_of_one_digest_are_refused(opener: Opener) -> None:
    made = mint("org_a", None, T0)
    twin = mint("org_b", None, T0 + 1)
    async with opener() as keys:
        await keys.create_key(made.record, made.digest)
        with pytest.raises((sqlite3.IntegrityError, DuplicateKeyError)):
            await keys.create_key(twin.record, made.digest)
        assert await keys.list_keys(None) == [made.record]
        assert await keys.find_key(made.digest) == (made.record.id, "org_a")


async def test_keys_survive_a_restart_of_the_store(opener: Opener) -> None:
    made = mint("org_a", "kept", T0)
    async with opener() as keys:
        await keys.create_key(made.record, made.digest)
    async with opener() as keys:
        assert await keys.find_key(made.digest) == (made.record.id, "org_a")
        assert await keys.list_keys("org_a") == [made.record]


def test_the_cli_keeps_keys_in_mongodb(tmp_path: Path, mongo_for_processes: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env |= {
        "GATEWAY_DATA_DIR": str(tmp_path),
        "GATEWAY_MONGODB_URI": mongo_for_processes,
        "GATEWAY_MONGODB_DATABASE": f"gw_{uuid.uuid4().hex[:8]}",
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway", *args], env=env, capture_output=True, text=True, timeout=60
        )

    made = cli("keys", "create", "--org", "org_mongo", "--name", "ops")
    assert made.returncode == 0, made.stderr
    lines = dict(line.split(": ", 1) for line in made.stdout.splitlines())
    listed = cli("keys", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split("\t")[:3] == [lines["id"], "org_mongo", "ops"]
    assert lines["key"] not in listed.stdout
    assert cli("keys", "revoke", lines["id"]).returncode == 0
    assert "revoked" in cli("keys", "list", "--org", "org_mongo").stdout
    assert cli("keys", "revoke", lines["id"]).returncode == 1
    # What the admin API refuses, the CLI refuses too (click's usage error, exit code 2).
    for bad in (("--org", "has space"), ("--org", "org_ok", "--name", "tab\there"), ("--org", "x" * 129)):
        refused = cli("keys", "create", *bad)
        assert refused.returncode == 2 and "key:" not in refused.stdout, refused.stderr
    assert len(cli("keys", "list").stdout.splitlines()) == 1
    assert not list(tmp_path.glob("gateway.sqlite3*"))  # nothing went to the embedded store


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("backend", ["sqlite", "mongodb"])
def test_the_startup_line_counts_the_stores_keys_and_warns_no_more(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    env = {"GATEWAY_API_KEYS": ""}  # no environment key: the store's are the only ones
    if backend == "mongodb":
        env["GATEWAY_MONGODB_URI"] = request.getfixturevalue("mongo_for_processes")
        env["GATEWAY_MONGODB_DATABASE"] = f"gw_{uuid.uuid4().hex[:8]}"
    base = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    cli_env = {**base, **env, "GATEWAY_DATA_DIR": str(tmp_path / "data")}
    for org in ("org_one", "org_two"):
        made = subprocess.run(
            [sys.executable, "-m", "gateway", "keys", "create", "--org", org],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert made.returncode == 0, made.stderr
    revoked_id = made.stdout.splitlines()[0].removeprefix("id: ")
    revoked = subprocess.run(
        [sys.executable, "-m", "gateway", "keys", "revoke", revoked_id], env=cli_env, timeout=60, check=False
    )
    assert revoked.returncode == 0
    # The gateway as its users start it, with no key in the environment (not `start_gateway`,
    # which sets one); once it is ready, both lines it says at start have been written.
    port = free_port()
    log = tmp_path / "gateway.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway"],
            env={**cli_env, "GATEWAY_PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not _ready(port):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the gateway did not become ready"
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(20)
    text = log.read_text()
    assert "; 1 API key (0 from GATEWAY_API_KEYS, 1 in the store)" in text
    assert "WARNING: no API key" not in text


def test_the_startup_line_says_when_the_store_was_not_asked() -> None:
    settings = load_settings({"GATEWAY_API_KEYS": "k1=o1"})
    assert startup_line(settings, None).endswith("; 1 API key (the store's not counted: it did not answer)")
    assert startup_line(settings, 0).endswith("; 1 API key")
    assert startup_line(settings, 3).endswith("; 4 API keys (1 from GATEWAY_API_KEYS, 3 in the store)")
