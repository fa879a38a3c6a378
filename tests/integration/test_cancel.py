"""`POST /v1/model/response/{thread_id}/cancel` (SPEC §10): a cancel soon after the start keeps
nothing (Freddy's `quick_edit`), a later one keeps the partial answer as one turn (`keep_partial`),
both say so, the stream still ends cleanly, and a cancel reaching another worker process than the
stream's works the same."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import KEY_A, user
from tests.fakes.behaviours import Reply
from tests.fakes.server import eventually, serve
from tests.fakes.upstream import FakeUpstream
from tests.gateway_process import GatewayProcess, start_gateway

CHUNKS = tuple(f"part{i} " for i in range(60))


@pytest.fixture
def upstream() -> Iterator[tuple[FakeUpstream, str]]:
    fake = FakeUpstream()
    with serve(fake) as url:
        yield fake, url


def gateway_for(tmp_path: Path, url: str, name: str = "gw") -> GatewayProcess:
    config = tmp_path / "providers.toml"
    config.write_text(f'[endpoints.slow]\nbase_url = "{url}/v1"\n')
    return start_gateway(
        tmp_path / "data",
        tmp_path / f"{name}.log",
        {"GATEWAY_CONFIG_FILE": str(config), "GATEWAY_CANCEL_QUICK_EDIT_S": "1"},
    )


@contextlib.contextmanager
def gateways(tmp_path: Path, url: str, where: str) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    """The stream's gateway and the cancel's: the same process, or two sharing one store."""
    first = gateway_for(tmp_path, url, "first")
    second = first if where == "same" else gateway_for(tmp_path, url, "second")
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


async def stream_events(http: httpx.AsyncClient, tid: str) -> list[tuple[str, Any]]:
    body = {"model": "slow/m", "thread": tid, "inputs": [user("long story")], "stream": True}
    out: list[tuple[str, Any]] = []
    async with http.stream("POST", "/v1/model/response", json=body) as r:
        assert r.status_code == 200
        name = None
        async for line in r.aiter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line == "data: [DONE]":
                out.append(("[DONE]", None))
            elif line.startswith("data:") and name:
                out.append((name, json.loads(line.split(":", 1)[1])))
    return out


async def cancel_after(
    http: httpx.AsyncClient, fake: FakeUpstream, tid: str, delay_s: float
) -> dict[str, Any]:
    assert await eventually(lambda: bool(fake.calls))
    await asyncio.sleep(delay_s)
    r = await http.post(f"/v1/model/response/{tid}/cancel")
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def messages(http: httpx.AsyncClient, tid: str) -> list[tuple[str, str]] | None:
    r = await http.get(f"/v1/threads/{tid}/messages")
    if r.status_code == 404:
        return None
    return [(m["role"], m["content"]) for m in r.json()["data"]]


WHERE = pytest.mark.parametrize("where", ["same", "other"], ids=["same-process", "other-process"])


@WHERE
async def test_an_early_cancel_keeps_nothing(
    tmp_path: Path, upstream: tuple[FakeUpstream, str], where: str
) -> None:
    fake, url = upstream
    fake.push(Reply(chunks=CHUNKS, chunk_delay_s=0.2))
    with gateways(tmp_path, url, where) as (a, b):
        async with (
            httpx.AsyncClient(base_url=a.url, headers={"X-API-Key": KEY_A}, timeout=30) as streamer,
            httpx.AsyncClient(base_url=b.url, headers={"X-API-Key": KEY_A}, timeout=30) as canceller,
        ):
            events, answer = await asyncio.gather(
                stream_events(streamer, "t_quick"), cancel_after(canceller, fake, "t_quick", 0.3)
            )
            assert answer == {
                "success": True,
                "cancel_mode": "quick_edit",
                "elapsed_seconds": answer["elapsed_seconds"],
                "user_message_deleted": True,
                "assistant_response_deleted": True,
                "partial_content_saved": False,
            }
            assert 0.2 < answer["elapsed_seconds"] < 1
            assert [n for n, _ in events][-2:] == ["response.failed", "[DONE]"]
            assert events[-2][1]["error"]["code"] == "CANCELLED"
            assert await eventually(lambda: fake.calls[0].disconnected)
            assert await messages(canceller, "t_quick") is None  # the thread the turn would have made


@WHERE
async def test_a_late_cancel_keeps_the_partial_answer_as_one_turn(
    tmp_path: Path, upstream: tuple[FakeUpstream, str], where: str
) -> None:
    fake, url = upstream
    fake.push(Reply(chunks=CHUNKS, chunk_delay_s=0.1))
    with gateways(tmp_path, url, where) as (a, b):
        async with (
            httpx.AsyncClient(base_url=a.url, headers={"X-API-Key": KEY_A}, timeout=30) as streamer,
            httpx.AsyncClient(base_url=b.url, headers={"X-API-Key": KEY_A}, timeout=30) as canceller,
        ):
            events, answer = await asyncio.gather(
                stream_events(streamer, "t_keep"), cancel_after(canceller, fake, "t_keep", 1.5)
            )
            assert answer["cancel_mode"] == "keep_partial" and answer["partial_content_saved"] is True
            assert answer["user_message_deleted"] is False and answer["assistant_response_deleted"] is False
            sent = "".join(e["delta"] for n, e in events if n == "response.output_text.delta")
            assert [n for n, _ in events][-2:] == ["response.completed", "[DONE]"]
            completed = events[-2][1]["response"]
            assert completed["status"] == "cancelled" and completed["output_text"] == sent
            assert sent and "".join(CHUNKS).startswith(sent) and sent != "".join(CHUNKS)
            assert await messages(canceller, "t_keep") == [("user", "long story"), ("assistant", sent)]
            thread = (await canceller.get("/v1/threads/t_keep")).json()
            assert thread["message_count"] == 2
            # The thread takes turns again at once.
            fake.push(Reply(chunks=("more",)))
            r = await canceller.post(
                "/v1/model/response", json={"model": "slow/m", "thread": "t_keep", "inputs": [user("go on")]}
            )
            assert r.status_code == 200 and r.json()["output_text"] == "more"


async def test_a_cancel_without_a_running_stream_is_404(
    tmp_path: Path, upstream: tuple[FakeUpstream, str]
) -> None:
    _, url = upstream
    gw = gateway_for(tmp_path, url)
    try:
        async with httpx.AsyncClient(base_url=gw.url, headers={"X-API-Key": KEY_A}, timeout=30) as http:
            r = await http.post("/v1/model/response/t_none/cancel")
            assert r.status_code == 404 and r.json()["error"]["code"] == "THREAD_NOT_FOUND"
            ok = await http.post(
                "/v1/model/response", json={"model": "echo", "thread": "t_idle", "inputs": [user("x")]}
            )
            assert ok.status_code == 200
            r = await http.post("/v1/model/response/t_idle/cancel")
            assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    finally:
        gw.stop()
