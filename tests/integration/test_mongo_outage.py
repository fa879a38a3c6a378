"""MongoDB unreachable: quick 503 STORE_UNAVAILABLE, readiness 503, and service resumes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from gateway.settings import load_settings
from tests.conftest import API_KEYS, KEY_A, Api, err, ok, running
from tests.services import MongoProcess


async def test_store_outage_answers_503_quickly_and_recovers(tmp_path: Path) -> None:
    mongo = MongoProcess()
    uri = mongo.start()
    settings = load_settings(
        {}, data_dir=str(tmp_path), api_keys=API_KEYS, mongodb_uri=uri, mongodb_timeout_s=0.5
    )
    try:
        async with running(settings) as client:
            a = Api(client, KEY_A)
            tid = ok(await a.say("before"))["thread_id"]
            before = await client.get("/health/ready")
            assert before.status_code == 200
            assert before.json()["checks"]["store"]["backend"] == "mongodb"

            mongo.stop()
            started = time.monotonic()
            err(await a.say("during"), 503, "STORE_UNAVAILABLE")
            err(await a.get("/v1/threads"), 503, "STORE_UNAVAILABLE")
            # Bounded by the configured timeout (0.5 s), not by the driver's 30 s default.
            assert time.monotonic() - started < 5
            ready = await client.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"]["store"] == {"status": "down", "backend": "mongodb"}

            mongo.start()
            # Service resumes by itself once the driver's monitor sees the server again (its
            # heartbeat is at least 0.5 s apart, later on a loaded machine): a few seconds at most.
            deadline = time.monotonic() + 10
            while (await client.get("/health/ready")).status_code != 200:
                assert time.monotonic() < deadline, "the store did not come back"
                await asyncio.sleep(0.2)
            # mongoeco keeps data in memory, so the restarted server is empty: the old thread is
            # gone, and new work goes through again.
            assert (await a.thread(tid)).status_code == 404
            assert ok(await a.say("after"))["output_text"] == "after"
    finally:
        mongo.stop()
