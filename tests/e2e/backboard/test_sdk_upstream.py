"""Backboard turns over a real provider adapter (the OpenAI one, pointed at a fake OpenAI server):
`llm_provider` + `model_name` routed by the one registry, the assistant's and the turn's
instructions reaching the model, each upstream chunk its own `content_streaming` event, and a stream
that breaks ending in an `error` event with nothing saved (SPEC §13, §3.3, §11)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from backboard import BackboardClient
from backboard.exceptions import BackboardAPIError

from tests.conftest import KEY_A
from tests.e2e.backboard.conftest import serve_gateway
from tests.fakes.behaviours import Broken, Reply
from tests.fakes.server import serve
from tests.fakes.upstream import FakeUpstream


@pytest.fixture
def fake() -> Iterator[tuple[FakeUpstream, str]]:
    upstream = FakeUpstream()
    with serve(upstream) as url:
        yield upstream, url


@pytest.fixture
def openai_gateway(tmp_path: Path, fake: tuple[FakeUpstream, str]) -> Iterator[str]:
    with serve_gateway(tmp_path / "data", openai_api_key="sk-test", openai_base_url=f"{fake[1]}/v1") as url:
        yield url


@pytest.fixture
async def bb(openai_gateway: str) -> AsyncIterator[BackboardClient]:
    async with BackboardClient(api_key=KEY_A, base_url=f"{openai_gateway}/api") as c:
        yield c


async def test_openai_and_gpt_4o_route_to_openai_slash_gpt_4o(
    bb: BackboardClient, fake: tuple[FakeUpstream, str], openai_gateway: str
) -> None:
    upstream, _ = fake
    upstream.push(Reply(chunks=("Blue", " it is."), input_tokens=9, output_tokens=4))
    answer = await bb.send_message("Colour?", llm_provider="openai", model_name="gpt-4o")
    assert upstream.calls[0].body["model"] == "gpt-4o"
    message = answer.messages[-1]
    assert answer.content == "Blue it is."
    assert (message["model_provider"], message["model_name"]) == ("openai", "gpt-4o")
    assert (message["input_tokens"], message["output_tokens"], message["total_tokens"]) == (9, 4, 13)
    assert answer.context_usage is not None and answer.context_usage.model == "openai/gpt-4o"
    # The same model name in the Freddy door: the thread's last model.
    async with httpx.AsyncClient(base_url=openai_gateway, headers={"X-API-Key": KEY_A}) as http:
        thread = (await http.get(f"/v1/threads/{answer.thread_id}")).json()
    assert thread["last_model_used"] == "openai/gpt-4o"


async def test_assistant_and_turn_instructions_reach_the_model_and_only_the_turn_is_saved(
    bb: BackboardClient, fake: tuple[FakeUpstream, str]
) -> None:
    upstream, _ = fake
    assistant = await bb.create_assistant(name="Poet", system_prompt="Answer in rhyme.")
    thread = await bb.create_thread(assistant.assistant_id)
    await bb.add_message(thread.thread_id, content="Hi", llm_provider="openai", model_name="gpt-4o")
    await bb.send_message(
        "More", thread_id=str(thread.thread_id), system_prompt="Be short.", model_name="gpt-4o"
    )
    first, second = (c.body["messages"] for c in upstream.calls)
    assert first[0] == {"role": "system", "content": "Answer in rhyme."}
    assert first[-1] == {"role": "user", "content": "Hi"}
    assert [m["role"] for m in second] == ["system", "system", "user", "assistant", "user"]
    assert {m["content"] for m in second if m["role"] == "system"} == {"Answer in rhyme.", "Be short."}
    saved = await bb.get_thread(thread.thread_id)
    assert [m.role.value for m in saved.messages] == ["user", "assistant", "user", "assistant"]


async def test_each_upstream_chunk_is_its_own_content_streaming_event(
    bb: BackboardClient, fake: tuple[FakeUpstream, str]
) -> None:
    upstream, _ = fake
    upstream.push(Reply(chunks=("one", " two", " three")))
    events = [e async for e in await bb.send_message("count", model_name="gpt-4o", stream=True)]
    assert [e["content"] for e in events if e["type"] == "content_streaming"] == ["one", " two", " three"]
    assert events[-1] == {**events[-1], "type": "run_ended", "status": "completed"}


async def test_a_stream_that_breaks_raises_and_saves_nothing(
    bb: BackboardClient, fake: tuple[FakeUpstream, str]
) -> None:
    upstream, _ = fake
    first = await bb.send_message("kept", model_name="gpt-4o")
    upstream.push(Broken(after=1), Broken(after=1), Broken(after=1))
    seen: list[dict[str, object]] = []
    with pytest.raises(BackboardAPIError) as caught:
        async for event in await bb.send_message(
            "lost", thread_id=first.thread_id, model_name="gpt-4o", stream=True
        ):
            seen.append(event)
    assert caught.value.status_code is None  # raised from the `error` event, after the 200
    assert seen and seen[0]["type"] == "run_started"
    assert "run_ended" not in {e["type"] for e in seen}
    assert [m.content for m in (await bb.get_thread(first.thread_id)).messages] == [
        "kept",
        "Hello from the fake",
    ]


async def test_a_turn_naming_no_model_takes_its_assistants_model(
    bb: BackboardClient, fake: tuple[FakeUpstream, str], openai_gateway: str
) -> None:
    upstream, _ = fake
    async with httpx.AsyncClient(base_url=openai_gateway, headers={"X-API-Key": KEY_A}) as http:
        r = await http.post(
            "/api/assistants", json={"name": "GPT", "llm_provider": "openai", "model_name": "gpt-4o-mini"}
        )
    aid = r.json()["assistant_id"]
    answer = await bb.send_message("which model?", assistant_id=aid)
    assert upstream.calls[0].body["model"] == "gpt-4o-mini"
    assert answer.messages[-1]["model_name"] == "gpt-4o-mini"
    # Its thread keeps the assistant's model on the next turn, through the legacy form route too.
    await bb.add_message(answer.thread_id, content="again")
    assert [c.body["model"] for c in upstream.calls] == ["gpt-4o-mini", "gpt-4o-mini"]


async def test_a_turn_naming_no_model_without_an_assistant_model_takes_the_default_model(
    tmp_path: Path, fake: tuple[FakeUpstream, str]
) -> None:
    upstream, url = fake
    overrides = {
        "openai_api_key": "sk-test",
        "openai_base_url": f"{url}/v1",
        "default_model": "openai/gpt-4.1",
    }
    with serve_gateway(tmp_path / "default", **overrides) as gateway:
        async with BackboardClient(api_key=KEY_A, base_url=f"{gateway}/api") as client:
            answer = await client.send_message("no model named")
    assert upstream.calls[0].body["model"] == "gpt-4.1"
    assert (answer.messages[-1]["model_provider"], answer.messages[-1]["model_name"]) == ("openai", "gpt-4.1")
