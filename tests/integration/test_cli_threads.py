"""`python -m gateway threads list|export` (issue 15): an organization's threads as JSON lines, read
from the store the server wrote (its settings: GATEWAY_DATA_DIR, GATEWAY_MONGODB_URI), on SQLite
and on MongoDB. Each line is compared with what the native API answers for the same thread."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from gateway.settings import Settings, load_settings
from tests.conftest import API_KEYS, KEY_A, KEY_B, ORG_A, ORG_B, Api, ok, running, user


class Setup:
    def __init__(self, settings: Settings, env: dict[str, str]) -> None:
        self.settings = settings
        self.env = env

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway", "threads", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def lines(self, *args: str) -> list[dict[str, Any]]:
        done = self.cli(*args)
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.fixture(params=["sqlite", "mongodb"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Setup:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_DATA_DIR"] = str(tmp_path / "data")
    if request.param == "mongodb":
        env["GATEWAY_MONGODB_URI"] = request.getfixturevalue("mongo_for_processes")
        env["GATEWAY_MONGODB_DATABASE"] = f"gw_{uuid.uuid4().hex[:12]}"
    settings = load_settings({k: v for k, v in env.items() if k.startswith("GATEWAY_")}, api_keys=API_KEYS)
    return Setup(settings, env)


async def turn(api: Api, thread: str, text: str, **extra: Any) -> None:
    body = {"model": "echo", "thread": thread, "inputs": [user(text)], **extra}
    ok(await api.post("/v1/model/response", json=body))


async def messages_of(api: Api, thread: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        params = {"limit": 100, **({"after": after} if after else {})}
        page = ok(await api.get(f"/v1/threads/{thread}/messages", params=params))
        found += page["data"]
        if not page["has_more"]:
            return found
        after = page["last_id"]


async def test_threads_are_listed_and_exported_as_the_api_shows_them(setup: Setup) -> None:
    async with running(setup.settings) as client:
        a, b = Api(client, KEY_A), Api(client, KEY_B)
        await turn(a, "t_long", "first")
        await turn(a, "t_long", "second")
        await turn(a, "t_hidden", "a secret", store=False)
        ok_made = await a.post("/v1/threads", json={"id": "t_empty", "metadata": {"team": "ops"}})
        assert ok_made.status_code == 201, ok_made.text
        await turn(b, "t_theirs", "the other organization")
        # The newest activity first: t_long had its turn last.
        await turn(a, "t_long", "third")
        api_threads = {t: ok(await a.get(f"/v1/threads/{t}")) for t in ("t_long", "t_hidden", "t_empty")}
        api_messages = {t: await messages_of(a, t) for t in api_threads}

    listed = setup.lines("list", "--org", ORG_A)
    # Visible threads newest activity first, then the hidden ones.
    assert [t["id"] for t in listed] == ["t_long", "t_empty", "t_hidden"]
    assert listed == [api_threads[t["id"]] for t in listed]
    assert [t["visible_in_ui"] for t in listed] == [True, True, False]
    assert listed[0]["message_count"] == 6 and listed[1]["metadata"] == {"team": "ops"}
    assert [t["id"] for t in setup.lines("list", "--org", ORG_A, "--visible-only")] == ["t_long", "t_empty"]
    assert [t["id"] for t in setup.lines("list", "--org", ORG_B)] == ["t_theirs"]
    assert setup.lines("list", "--org", "org_nobody") == []

    exported = setup.lines("export", "--org", ORG_A)
    assert [line["thread"]["id"] for line in exported] == ["t_long", "t_empty", "t_hidden"]
    for line in exported:
        assert set(line) == {"thread", "messages"}
        assert line["thread"] == api_threads[line["thread"]["id"]]
        assert line["messages"] == api_messages[line["thread"]["id"]]
    long = exported[0]["messages"]
    assert [(m["role"], m["content"]) for m in long] == [
        ("user", "first"),
        ("assistant", "first"),
        ("user", "second"),
        ("assistant", "first\nsecond"),
        ("user", "third"),
        ("assistant", "first\nsecond\nthird"),
    ]
    assert exported[1]["messages"] == []
    assert [m["content"] for m in exported[2]["messages"]] == ["a secret", "a secret"]
    assert "the other organization" not in json.dumps(exported)

    only = setup.lines("export", "--org", ORG_A, "--thread", "t_hidden")
    assert only == [exported[2]]


async def test_another_organizations_thread_is_not_found(setup: Setup) -> None:
    async with running(setup.settings) as client:
        await turn(Api(client, KEY_B), "t_theirs", "not yours")
    for thread in ("t_theirs", "t_never_made"):
        done = setup.cli("export", "--org", ORG_A, "--thread", thread)
        assert done.returncode == 1
        assert done.stdout == ""
        assert f"Thread '{thread}' was not found." in done.stderr
    theirs = setup.lines("export", "--org", ORG_B, "--thread", "t_theirs")
    assert [m["content"] for m in theirs[0]["messages"]] == ["not yours", "not yours"]


async def test_long_lists_are_walked_page_by_page_with_nothing_twice(setup: Setup) -> None:
    async with running(setup.settings) as client:
        a = Api(client, KEY_A)
        made = [f"t_{i:03d}" for i in range(105)]
        for tid in made:
            assert (await a.post("/v1/threads", json={"id": tid})).status_code == 201
        # 62 turns: 124 messages, past one page of 100.
        for i in range(62):
            await turn(a, "t_000", f"line {i}")
    listed = [t["id"] for t in setup.lines("list", "--org", ORG_A)]
    assert sorted(listed) == made and len(set(listed)) == 105
    assert listed[0] == "t_000"  # the one with turns is the newest activity
    (exported,) = setup.lines("export", "--org", ORG_A, "--thread", "t_000")
    users = [m["content"] for m in exported["messages"] if m["role"] == "user"]
    assert users == [f"line {i}" for i in range(62)]
    assert len(exported["messages"]) == exported["thread"]["message_count"] == 124
