"""A deletion that cannot reach Redis is never lost (issue 10, defect 1).

Two gateways ("workers") share one SQLite file and one Redis; worker A reaches Redis through a proxy
the test cuts. Before the fix, A's deletion was queued in A's memory only: B went on serving the
deleted response from Redis as a `previousResponseId`, and so did A after a restart.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.settings import Settings
from tests.conftest import KEY_A, Api, err, make_settings, ok, running, uid, user
from tests.proxy import TcpProxy, proxy
from tests.services import RedisServer

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture
def cuttable(redis_server: RedisServer) -> Iterator[TcpProxy]:
    with proxy("127.0.0.1", redis_server.port) as p:
        yield p


def settings_for(data: Path, redis_url: str) -> Settings:
    # Two workers of one deployment: the same data directory, Redis as their shared cache.
    return make_settings(data, redis_url=redis_url, workers=2, mongodb_uri=None)


def via(p: TcpProxy) -> str:
    return f"redis://127.0.0.1:{p.port}/0"


async def chain(api: Api, rid: str) -> int:
    r = await api.post(
        "/v1/model/response", json={"model": "echo", "previousResponseId": rid, "inputs": [user("again")]}
    )
    return r.status_code


async def test_a_deletion_behind_a_partition_is_not_served_by_another_worker_or_after_a_restart(
    tmp_path: Path, redis_server: RedisServer, cuttable: TcpProxy
) -> None:
    data = tmp_path / "data"
    async with running(settings_for(data, redis_server.url)) as b_client:
        b = Api(b_client, KEY_A)
        tid = uid()
        first = ok(await b.say("a secret", thread=tid))
        async with running(settings_for(data, via(cuttable))) as a_client:
            a = Api(a_client, KEY_A)
            assert ok(await a.thread(tid))["message_count"] == 2
            cuttable.cut()
            assert (await a.delete(f"/v1/threads/{tid}")).status_code == 204
            # B still reaches Redis, which still holds the response: the store says it is gone.
            assert await chain(b, first["id"]) == 404
            err(await b.thread(tid), 404, "THREAD_NOT_FOUND")
        # A restarts during the partition (what it had queued is gone), then the partition heals.
        async with running(settings_for(data, via(cuttable))) as a_client:
            a = Api(a_client, KEY_A)
            cuttable.heal()
            for api in (a, b, a, b):
                assert await chain(api, first["id"]) == 404
        # Nothing was saved again from the deleted content.
        listed = ok(await b.get("/v1/threads", params={"limit": 100}))
        assert all(t["id"] != tid for t in listed["data"])


async def test_a_cached_response_of_an_earlier_generation_of_the_id_is_not_served(
    tmp_path: Path, redis_server: RedisServer, cuttable: TcpProxy
) -> None:
    data = tmp_path / "data"
    async with (
        running(settings_for(data, redis_server.url)) as b_client,
        running(settings_for(data, via(cuttable))) as a_client,
    ):
        a, b = Api(a_client, KEY_A), Api(b_client, KEY_A)
        tid = uid()
        old = ok(await b.say("the old thread", thread=tid))
        cuttable.cut()
        assert (await a.delete(f"/v1/threads/{tid}")).status_code == 204
        # The id is used again by an explicit create: a new thread, not the old one's responses.
        assert (await a.post("/v1/threads", json={"id": tid})).status_code == 201
        assert await chain(b, old["id"]) == 404
        cuttable.heal()
        assert await chain(a, old["id"]) == 404


async def test_a_live_thread_s_cached_response_is_still_served_from_the_cache(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    import redis as redis_sync

    data = tmp_path / "data"
    async with running(settings_for(data, redis_server.url)) as client:
        a = Api(client, KEY_A)
        first = ok(await a.say("kept", thread=uid()))
        keys = redis_sync.Redis.from_url(redis_server.url).keys(f"gw:resp:*{first['id']}")
        assert len(keys) == 1  # cached
        r = ok(
            await a.post(
                "/v1/model/response",
                json={"model": "echo", "previousResponseId": first["id"], "inputs": [user("more")]},
            )
        )
        assert r["output_text"].splitlines() == ["kept", "more"]


@pytest.mark.parametrize("in_conversation", [True, False], ids=["of-a-conversation", "of-no-thread"])
async def test_a_response_deleted_behind_a_partition_is_not_served_by_another_worker(
    tmp_path: Path, redis_server: RedisServer, cuttable: TcpProxy, in_conversation: bool
) -> None:
    """DELETE /v1/responses/{id} (the OpenAI door) while A cannot reach Redis: B, whose Redis still
    holds the copy, answers 404 for it, as a retrieve and as a chain."""
    data = tmp_path / "data"
    async with running(settings_for(data, redis_server.url)) as b_client:
        b = Api(b_client, KEY_A)
        body: dict[str, object] = {"model": "echo", "input": "a secret"}
        if in_conversation:
            body["conversation"] = ok(await b.post("/v1/conversations", json={}))["id"]
        made = ok(await b.post("/v1/responses", json=body))
        assert ok(await b.get(f"/v1/responses/{made['id']}"))["id"] == made["id"]  # B has it cached
        async with running(settings_for(data, via(cuttable))) as a_client:
            a = Api(a_client, KEY_A)
            cuttable.cut()
            assert (await a.delete(f"/v1/responses/{made['id']}")).status_code == 200
            assert (await b.get(f"/v1/responses/{made['id']}")).status_code == 404
            again = await b.post(
                "/v1/responses", json={"model": "echo", "input": "more", "previous_response_id": made["id"]}
            )
            assert again.status_code == 404
            cuttable.heal()
