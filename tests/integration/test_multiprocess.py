"""Two gateway processes on one store (SQLite, MongoDB): concurrent turns on one thread through both
are saved whole and served one after the other, each seeing every turn saved before it."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import KEY_A, user
from tests.gateway_process import GatewayProcess
from tests.services import MongoProcess


@pytest.fixture(params=["sqlite", "mongodb"])
def two_gateways(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[str]]:
    extra: dict[str, str] = {}
    mongo = None
    if request.param == "mongodb":
        if os.environ.get("GATEWAY_TEST_MONGODB_URI"):
            extra["GATEWAY_MONGODB_URI"] = os.environ["GATEWAY_TEST_MONGODB_URI"]
        else:
            mongo = MongoProcess()
            extra["GATEWAY_MONGODB_URI"] = mongo.start()
        extra["GATEWAY_MONGODB_DATABASE"] = f"gw_{uuid.uuid4().hex[:8]}"
    procs = [GatewayProcess(tmp_path / "data", tmp_path / f"gw{i}.log", extra) for i in range(2)]
    try:
        for proc in procs:
            proc.wait_ready()
        yield [proc.url for proc in procs]
    finally:
        for proc in procs:
            proc.stop()
        if mongo is not None:
            mongo.stop()


async def test_concurrent_turns_through_two_processes_keep_every_pair_in_order(
    two_gateways: list[str],
) -> None:
    headers = {"X-API-Key": KEY_A}
    tid = "shared_thread_1"
    turns = 40
    async with httpx.AsyncClient(headers=headers, timeout=30) as http:
        first = await http.post(two_gateways[0] + "/v1/threads", json={"id": tid})
        assert first.status_code == 201

        async def say(i: int) -> httpx.Response:
            url = two_gateways[i % 2] + "/v1/model/response"
            return await http.post(url, json={"model": "echo", "thread": tid, "inputs": [user(f"turn {i}")]})

        answers = await asyncio.gather(*(say(i) for i in range(turns)))
        assert [r.status_code for r in answers] == [200] * turns
        messages, after = [], None
        while True:
            params: dict[str, str | int] = {"limit": 100} | ({"after": after} if after else {})
            page = (await http.get(f"{two_gateways[1]}/v1/threads/{tid}/messages", params=params)).json()
            messages += page["data"]
            if not page["has_more"]:
                break
            after = page["last_id"]
    assert len(messages) == 2 * turns
    users = [m for m in messages[::2]]
    answers_ = [m for m in messages[1::2]]
    assert all(m["role"] == "user" for m in users) and all(m["role"] == "assistant" for m in answers_)
    assert sorted(m["texts"][0]["text"] for m in users) == sorted(f"turn {i}" for i in range(turns))
    for u, a in zip(users, answers_, strict=True):
        # Each answer directly follows its own input: same response, and echo's last line is that input.
        assert u["response_id"] == a["response_id"]
        assert a["texts"][0]["text"].splitlines()[-1] == u["texts"][0]["text"]
    assert len({m["id"] for m in messages}) == 2 * turns
    # Linearizable across processes: the k-th saved turn saw exactly the k - 1 turns before it.
    questions = [u["texts"][0]["text"] for u in users]
    for k, a in enumerate(answers_, start=1):
        assert a["texts"][0]["text"].splitlines() == questions[:k]
