"""A memory write survives `kill -9` of the gateway (SPEC §12): the turn is answered and its write
job is running (the memory model has not answered yet) when every process of the gateway is killed;
after a restart the job's lease runs out, the new process runs it, and its fact is written once."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import _SERVICES, BACKEND, KEY_A
from tests.fakes.behaviours import Reply
from tests.fakes.server import serve
from tests.fakes.upstream import FakeUpstream
from tests.gateway_process import GatewayProcess, start_gateway

FACT = '{"facts": [{"text": "The user is allergic to peanuts.", "replaces": null}]}'


@pytest.fixture
def fake() -> Iterator[tuple[FakeUpstream, str]]:
    upstream = FakeUpstream()
    with serve(upstream) as url:
        yield upstream, url


def wait_for(predicate: object, timeout_s: float = 60.0) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_memory_write_interrupted_by_kill_9_completes_once_after_restart(
    tmp_path: Path, fake: tuple[FakeUpstream, str]
) -> None:
    upstream, url = fake
    env = {
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": f"{url}/v1",
        "GATEWAY_DEFAULT_MODEL": "openai/gpt-4o",
        "GATEWAY_MEMORY_MODEL": "openai/gpt-4o-mini",
        "GATEWAY_JOB_LEASE_S": "2",
    }
    if BACKEND == "mongodb":
        env["GATEWAY_MONGODB_URI"] = _SERVICES["mongodb"]
        env["GATEWAY_MONGODB_DATABASE"] = f"gw_{uuid.uuid4().hex[:12]}"
    # The turn's answer, then a memory model that does not answer before the kill, then one that does.
    upstream.push(Reply(chunks=("Noted.",)), Reply(chunks=(FACT,), delay_s=120), Reply(chunks=(FACT,)))
    headers = {"X-API-Key": KEY_A}
    first: GatewayProcess = start_gateway(tmp_path / "data", tmp_path / "first.log", env)
    try:
        with httpx.Client(base_url=first.url, headers=headers, timeout=30) as http:
            aid = http.post("/v1/assistants", json={"name": "Chef", "memory": "auto"}).json()["id"]
            body = {"assistant_id": aid, "inputs": [{"role": "user", "content": "I'm allergic to peanuts."}]}
            answer = http.post("/v1/model/response", json=body)
            assert answer.status_code == 200, answer.text
            op = answer.json()["memory_operation_id"]
            # The write job has started: the memory model was called and has not answered.
            wait_for(lambda: len(upstream.calls) >= 2)
            assert upstream.calls[1].body["model"] == "gpt-4o-mini"
            assert http.get(f"/v1/memory-operations/{op}").json()["status"] == "IN_PROGRESS"
        first.signal(signal.SIGKILL)
        first.proc.wait(10)
    finally:
        first.stop()
    second = start_gateway(tmp_path / "data", tmp_path / "second.log", env)
    try:
        with httpx.Client(base_url=second.url, headers=headers, timeout=30) as http:

            def finished() -> bool:
                status: str = http.get(f"/v1/memory-operations/{op}").json()["status"]
                return status in ("COMPLETED", "FAILED")

            wait_for(finished)
            done = http.get(f"/v1/memory-operations/{op}").json()
            assert done["status"] == "COMPLETED" and len(done["memory_ids"]) == 1
            memories = http.get(f"/v1/assistants/{aid}/memories").json()
            assert [m["memory"] for m in memories["data"]] == ["The user is allergic to peanuts."]
            assert [m["id"] for m in memories["data"]] == done["memory_ids"]
            # Run once more after it completed: nothing (the job is done and stays done).
            time.sleep(3)
            assert http.get(f"/v1/assistants/{aid}/memories").json()["total"] == 1
            assert len(upstream.calls) == 3
    finally:
        second.stop()
