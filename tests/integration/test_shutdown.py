"""SIGTERM drains the gateway (issue 10): turns in flight that can finish are answered and saved;
an open stream that cannot is ended with `response.failed` before the server's grace runs out, and
nothing of it is saved."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import KEY_A, user
from tests.fakes.behaviours import Reply
from tests.fakes.server import eventually, serve
from tests.fakes.upstream import FakeUpstream
from tests.gateway_process import GatewayProcess, start_gateway

GRACE_S = 3.0  # streams are stopped 1.5 s before it ends


@pytest.fixture
def upstream() -> Iterator[tuple[FakeUpstream, str]]:
    fake = FakeUpstream()
    with serve(fake) as url:
        yield fake, url


def gateway_for(tmp_path: Path, upstream_url: str, name: str) -> GatewayProcess:
    config = tmp_path / "providers.toml"
    config.write_text(f'[endpoints.slow]\nbase_url = "{upstream_url}/v1"\n')
    return start_gateway(
        tmp_path / "data",
        tmp_path / f"{name}.log",
        {"GATEWAY_CONFIG_FILE": str(config), "GATEWAY_SHUTDOWN_GRACE_S": str(GRACE_S)},
    )


async def get(gw: GatewayProcess, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gw.url, headers={"X-API-Key": KEY_A}, timeout=10) as http:
        return await http.get(path)


def turn(text: str, thread: str, *, stream: bool = False) -> dict[str, object]:
    return {"model": "slow/model", "thread": thread, "inputs": [user(text)], "stream": stream}


async def test_sigterm_ends_an_open_stream_with_response_failed_and_saves_nothing(
    tmp_path: Path, upstream: tuple[FakeUpstream, str]
) -> None:
    fake, url = upstream
    # A stream far longer than the grace: one chunk a second.
    fake.push(Reply(chunks=tuple(f"part{i} " for i in range(30)), chunk_delay_s=1.0))
    gw = gateway_for(tmp_path, url, "first")
    events: list[tuple[str, dict[str, object]]] = []
    try:
        async with (
            httpx.AsyncClient(base_url=gw.url, headers={"X-API-Key": KEY_A}, timeout=30) as http,
            http.stream("POST", "/v1/model/response", json=turn("long", "t_drain", stream=True)) as r,
        ):
            assert r.status_code == 200
            name = None
            signalled_at = None
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    name = line.split(":", 1)[1].strip()
                elif line == "data: [DONE]":  # Freddy's end of stream (SPEC §10)
                    events.append(("[DONE]", {}))
                elif line.startswith("data:") and name:
                    events.append((name, json.loads(line.split(":", 1)[1])))
                    if name == "response.output_text.delta" and signalled_at is None:
                        gw.signal(signal.SIGTERM)
                        signalled_at = time.monotonic()
        assert signalled_at is not None
        ended_after = time.monotonic() - signalled_at
    finally:
        gw.proc.wait(20)
    names = [n for n, _ in events]
    assert names[0] == "response.created" and names[-2:] == ["response.failed", "[DONE]"], names
    failed = events[-2][1]["error"]
    assert isinstance(failed, dict) and failed["code"] == "SHUTTING_DOWN"
    assert ended_after < GRACE_S, ended_after  # before the server would have cut it off
    # uvicorn re-raises the signal once it has shut down cleanly: the process ends by SIGTERM.
    assert gw.proc.returncode == -signal.SIGTERM, gw.log.read_text()[-2000:]
    assert "Traceback" not in gw.log.read_text()
    # Nothing was saved: after a restart the thread is not there.
    gw = gateway_for(tmp_path, url, "second")
    try:
        r2 = await get(gw, "/v1/threads/t_drain")
        assert r2.status_code == 404, r2.text
    finally:
        gw.stop()


async def test_sigterm_lets_a_turn_in_flight_finish_and_saves_it(
    tmp_path: Path, upstream: tuple[FakeUpstream, str]
) -> None:
    fake, url = upstream
    fake.push(Reply(chunks=("done in time",), delay_s=0.8))
    gw = gateway_for(tmp_path, url, "first")
    try:
        async with httpx.AsyncClient(base_url=gw.url, headers={"X-API-Key": KEY_A}, timeout=30) as http:
            pending = asyncio.create_task(http.post("/v1/model/response", json=turn("quick", "t_finish")))
            assert await eventually(lambda: bool(fake.calls))
            gw.signal(signal.SIGTERM)
            r = await pending
        assert r.status_code == 200, r.text
        assert r.json()["output_text"] == "done in time"
    finally:
        gw.proc.wait(20)
    gw = gateway_for(tmp_path, url, "second")
    try:
        thread = await get(gw, "/v1/threads/t_finish")
        assert thread.status_code == 200 and thread.json()["message_count"] == 2
    finally:
        gw.stop()
