"""API keys kept in the store (SPEC §15): created, listed and revoked with `python -m gateway keys`,
used against a real gateway of two workers."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import user
from tests.gateway_process import start_gateway


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def turn(url: str, key: str) -> httpx.Response:
    # A new connection each time, so the requests spread over the workers.
    return httpx.post(
        url + "/v1/model/response",
        headers={"X-API-Key": key},
        json={"model": "echo", "inputs": [user("hello keys")]},
        timeout=10,
    )


def test_a_key_of_the_cli_works_until_revoked_on_every_worker(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    made = cli(data, "keys", "create", "--org", "org_cli", "--name", "ci robot")
    assert made.returncode == 0, made.stderr
    lines = dict(line.split(": ", 1) for line in made.stdout.splitlines())
    key_id, key = lines["id"], lines["key"]

    listed = cli(data, "keys", "list", "--org", "org_cli")
    assert listed.returncode == 0, listed.stderr
    fields = listed.stdout.strip().split("\t")
    assert fields[:3] == [key_id, "org_cli", "ci robot"]
    assert key not in listed.stdout
    assert cli(data, "keys", "list", "--org", "org_other").stdout == ""

    raw = b"".join(p.read_bytes() for p in data.glob("gateway.sqlite3*"))
    assert key.encode() not in raw
    db = sqlite3.connect(data / "gateway.sqlite3")
    try:
        (digest,) = db.execute("SELECT hash FROM api_keys WHERE id = ?", (key_id,)).fetchone()
    finally:
        db.close()
    assert bytes(digest) == hashlib.sha256(key.encode()).digest()

    gateway = start_gateway(data, tmp_path / "gw.log", {"GATEWAY_WORKERS": "2"})
    try:
        for _ in range(6):
            r = turn(gateway.url, key)
            assert r.status_code == 200, r.text
            assert "hello keys" in r.text
        # An environment key keeps working beside the store's.
        revoked = cli(data, "keys", "revoke", key_id)
        assert revoked.returncode == 0, revoked.stderr
        start = time.monotonic()
        deadline = start + 5
        seen_401 = 0
        while seen_401 < 12 and time.monotonic() < deadline:
            r = turn(gateway.url, key)
            seen_401 = seen_401 + 1 if r.status_code == 401 else 0
        assert seen_401 == 12, "the revoked key still answered"
        assert "revoked" in cli(data, "keys", "list").stdout
        assert cli(data, "keys", "revoke", key_id).returncode != 0  # already revoked
    finally:
        gateway.stop()
    assert key not in (tmp_path / "gw.log").read_text()
