"""Fact extraction by `GATEWAY_MEMORY_MODEL` (SPEC §12): the model is given the user's words and the
known memories most like them; the facts it answers are written, a corrected fact takes the place of
the memory it replaces, and an answer that is not the facts' JSON fails the operation (retried,
then FAILED) without writing anything: the status shows the last attempt's error meanwhile."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import KEY_A
from tests.e2e.backboard.conftest import serve_gateway
from tests.e2e.memory.conftest import settled
from tests.fakes.behaviours import Reply
from tests.fakes.upstream import FakeUpstream


@pytest.fixture
def extracting(tmp_path: Path, fake: FakeUpstream) -> Iterator[str]:
    url = fake.url  # type: ignore[attr-defined]
    settings = {
        "openai_api_key": "sk-test",
        "openai_base_url": f"{url}/v1",
        "default_model": "openai/gpt-4o",
        "memory_model": "openai/gpt-4o-mini",
    }
    with serve_gateway(tmp_path / "data", **settings) as gw:
        yield gw


@pytest.fixture
async def api(extracting: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=extracting, headers={"X-API-Key": KEY_A}, timeout=30) as c:
        yield c


def facts(*items: tuple[str, str | None]) -> Reply:
    body = {"facts": [{"text": t, "replaces": r} for t, r in items]}
    return Reply(chunks=(f"Here you are:\n```json\n{json.dumps(body)}\n```",))


async def test_the_memory_model_extracts_facts_and_a_correction_replaces_the_old_one(
    api: httpx.AsyncClient, fake: FakeUpstream
) -> None:
    aid = (await api.post("/v1/assistants", json={"name": "Chef", "memory": "auto"})).json()["id"]

    async def turn(text: str) -> str:
        body = {"assistant_id": aid, "inputs": [{"role": "user", "content": text}], "user": "ann"}
        r = await api.post("/v1/model/response", json=body)
        assert r.status_code == 200, r.text
        op: str = r.json()["memory_operation_id"]
        return op

    fake.push(
        Reply(chunks=("Nice.",)), facts(("The user lives in Porto.", None), ("The user has a cat.", None))
    )
    first = await settled(api, f"/v1/memory-operations/{await turn('Hi! I live in Porto and I have a cat.')}")
    assert first["status"] == "COMPLETED" and len(first["memory_ids"]) == 2
    extraction = fake.calls[1]
    assert extraction.body["model"] == "gpt-4o-mini"
    prompt = extraction.body["messages"][-1]["content"]
    assert "I live in Porto and I have a cat." in prompt and "(none)" in prompt
    listed = (await api.get(f"/v1/assistants/{aid}/memories")).json()["data"]
    by_text = {m["memory"]: m["id"] for m in listed}
    assert set(by_text) == {"The user lives in Porto.", "The user has a cat."}
    porto = by_text["The user lives in Porto."]

    fake.push(Reply(chunks=("Congratulations!",)), facts(("The user lives in Lisbon.", porto)))
    second = await settled(api, f"/v1/memory-operations/{await turn('I moved to Lisbon last week.')}")
    assert second["status"] == "COMPLETED" and second["memory_ids"] == [porto]
    # The model saw the known memory it corrected, with its id.
    assert f"[{porto}] The user lives in Porto." in fake.calls[3].body["messages"][-1]["content"]
    listed = (await api.get(f"/v1/assistants/{aid}/memories")).json()["data"]
    assert {m["id"]: m["memory"] for m in listed}[porto] == "The user lives in Lisbon."
    assert len(listed) == 2

    # A fact said again is a near-duplicate: nothing new is stored.
    fake.push(Reply(chunks=("Yes.",)), facts(("The user has a cat.", None)))
    third = await settled(api, f"/v1/memory-operations/{await turn('Remember, I have a cat.')}")
    assert third["status"] == "COMPLETED" and third["memory_ids"] == []
    assert (await api.get(f"/v1/assistants/{aid}/memories")).json()["total"] == 2


async def test_an_answer_that_is_not_facts_fails_the_operation_and_writes_nothing(
    api: httpx.AsyncClient, fake: FakeUpstream
) -> None:
    aid = (await api.post("/v1/assistants", json={"name": "Chef", "memory": "auto"})).json()["id"]
    fake.push(Reply(chunks=("Sure.",)), *[Reply(chunks=("I cannot do that.",))] * 5)
    body = {"assistant_id": aid, "inputs": [{"role": "user", "content": "I like tea."}]}
    op = (await api.post("/v1/model/response", json=body)).json()["memory_operation_id"]
    path = f"/v1/memory-operations/{op}"
    for _ in range(200):  # the first attempt's failure is recorded; the next waits for its backoff
        status = (await api.get(path)).json()
        if status["error"] is not None:
            break
        await asyncio.sleep(0.05)
    assert status["status"] == "PENDING" and "JSON" in status["error"]
    assert (await api.get(f"/v1/assistants/{aid}/memories")).json()["total"] == 0
