"""The OpenAI door over real provider adapters pointed at a fake upstream that speaks OpenAI's and
Anthropic's wire formats (SPEC §14, §7): a conversation begun on one provider and continued on
another with its whole history, instructions and sampling parameters reaching the model, upstream
failures as the SDK's exceptions and as `response.failed`, nothing saved when a stream breaks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import KEY_A
from tests.e2e.openai.conftest import serve_gateway
from tests.e2e.openai.helpers import Client, call, connect, every, is_async, raises, thread_texts
from tests.fakes.behaviours import Broken, Fail, Reply
from tests.fakes.server import eventually, serve
from tests.fakes.upstream import FakeUpstream

GPT, CLAUDE = "openai/gpt-4.1", "anthropic/claude-gateway-test"


@pytest.fixture
def upstream() -> Iterator[tuple[FakeUpstream, str]]:
    """One fake server for both providers: OpenAI's paths and Anthropic's `/v1/messages`."""
    fake = FakeUpstream()
    with serve(fake) as url:
        yield fake, url


@pytest.fixture
def fake(upstream: tuple[FakeUpstream, str]) -> FakeUpstream:
    return upstream[0]


@pytest.fixture
def provider_gateway(tmp_path: Path, upstream: tuple[FakeUpstream, str]) -> Iterator[str]:
    url = upstream[1]
    with serve_gateway(
        tmp_path / "data",
        openai_api_key="sk-test-openai",
        openai_base_url=f"{url}/v1",
        anthropic_api_key="sk-test-anthropic",
        anthropic_base_url=url,
        provider_attempts=1,
    ) as gw:
        yield gw


@pytest.fixture(params=["sync", "async"])
async def sdk(request: pytest.FixtureRequest, provider_gateway: str) -> AsyncIterator[Client]:
    async with connect(request.param, provider_gateway, KEY_A) as c:
        yield c


@pytest.fixture
async def raw(provider_gateway: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=provider_gateway, headers={"Authorization": f"Bearer {KEY_A}"}, timeout=30
    ) as c:
        yield c


async def test_a_conversation_begun_on_openai_continues_on_anthropic_with_its_history(
    sdk: Client, fake: FakeUpstream, raw: httpx.AsyncClient
) -> None:
    fake.push(Reply(chunks=("Hi Ada, noted.",)), Reply(chunks=("You are Ada.",)))
    conversation = await call(sdk.conversations.create())
    first = await call(sdk.responses.create(model=GPT, input="I am Ada.", conversation=conversation.id))
    assert first.output_text == "Hi Ada, noted."
    second = await call(
        sdk.responses.create(
            model=CLAUDE, input="Who am I?", conversation=conversation.id, instructions="Be brief."
        )
    )
    assert second.output_text == "You are Ada." and second.model == CLAUDE
    to_openai, to_anthropic = fake.calls
    assert (to_openai.dialect, to_anthropic.dialect) == ("openai", "anthropic")
    assert to_anthropic.body["model"] == "claude-gateway-test"
    assert to_anthropic.body["system"] in ("Be brief.", [{"type": "text", "text": "Be brief."}])
    history = [(m["role"], m["content"]) for m in to_anthropic.body["messages"]]
    flat = [(role, c if isinstance(c, str) else "".join(b["text"] for b in c)) for role, c in history]
    assert flat == [("user", "I am Ada."), ("assistant", "Hi Ada, noted."), ("user", "Who am I?")]
    assert await thread_texts(raw, conversation.id) == [
        ("user", "I am Ada."),
        ("assistant", "Hi Ada, noted."),
        ("user", "Who am I?"),
        ("assistant", "You are Ada."),
    ]


async def test_a_chain_crosses_providers_and_drops_the_earlier_instructions(
    sdk: Client, fake: FakeUpstream
) -> None:
    fake.push(Reply(chunks=("one",)), Reply(chunks=("two",)))
    first = await call(sdk.responses.create(model=CLAUDE, input="start", instructions="Speak French."))
    await call(sdk.responses.create(model=GPT, input="next", previous_response_id=first.id))
    to_anthropic, to_openai = fake.calls
    assert to_anthropic.body["system"] in ("Speak French.", [{"type": "text", "text": "Speak French."}])
    assert [(m["role"], m["content"]) for m in to_openai.body["messages"]] == [
        ("user", "start"),
        ("assistant", "one"),
        ("user", "next"),
    ]


async def test_sampling_parameters_reach_the_provider(sdk: Client, fake: FakeUpstream) -> None:
    fake.push(Reply(chunks=("ok",)))
    await call(
        sdk.responses.create(
            model=GPT, input="x", temperature=0.2, top_p=0.5, max_output_tokens=50, instructions="S"
        )
    )
    body = fake.calls[0].body
    assert (body["temperature"], body["top_p"]) == (0.2, 0.5)
    assert 50 in (body.get("max_tokens"), body.get("max_completion_tokens"))
    assert body["messages"][0] == {"role": "system", "content": "S"}


async def test_upstream_usage_is_the_responses_usage(sdk: Client, fake: FakeUpstream) -> None:
    fake.push(Reply(chunks=("counted",), input_tokens=21, output_tokens=5))
    response = await call(sdk.responses.create(model=GPT, input="x"))
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (
        21,
        5,
        26,
    )


async def test_an_upstream_429_is_the_sdks_rate_limit_error(sdk: Client, fake: FakeUpstream) -> None:
    fake.push(Fail(429, headers={"retry-after": "7"}))
    exc = await raises(lambda: sdk.responses.create(model=GPT, input="x"), openai.RateLimitError, 429)
    assert exc.body["code"] == "rate_limit_exceeded"  # type: ignore[index]
    assert exc.response.headers["retry-after"] == "7"


async def test_an_upstream_failure_is_502_and_saves_nothing(
    sdk: Client, fake: FakeUpstream, raw: httpx.AsyncClient
) -> None:
    conversation = await call(sdk.conversations.create())
    fake.push(Fail(500))
    await raises(
        lambda: sdk.responses.create(model=GPT, input="x", conversation=conversation.id),
        openai.InternalServerError,
        502,
    )
    assert await thread_texts(raw, conversation.id) == []


async def test_a_stream_that_breaks_ends_with_response_failed_and_saves_nothing(
    sdk: Client, fake: FakeUpstream, raw: httpx.AsyncClient
) -> None:
    conversation = await call(sdk.conversations.create())
    fake.push(Broken(after=1, chunks=("partial", " never")))
    events = await every(
        sdk.responses.create(model=GPT, input="x", conversation=conversation.id, stream=True)
    )
    names = [e.type for e in events]
    assert names[0] == "response.created" and names[-1] == "response.failed"
    assert "response.completed" not in names
    failed = events[-1].response
    assert failed.status == "failed" and failed.error is not None and failed.error.code == "server_error"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert await thread_texts(raw, conversation.id) == []
    await raises(lambda: sdk.responses.retrieve(failed.id), openai.NotFoundError, 404)
    # The conversation goes on: the failed turn held nothing back.
    fake.push(Reply(chunks=("fine",)))
    again = await call(sdk.responses.create(model=GPT, input="again", conversation=conversation.id))
    assert again.output_text == "fine"


async def test_each_upstream_chunk_is_its_own_delta(sdk: Client, fake: FakeUpstream) -> None:
    fake.push(Reply(chunks=("Al", "pha", " beta")))
    events = await every(sdk.responses.create(model=GPT, input="x", stream=True))
    assert [e.delta for e in events if e.type == "response.output_text.delta"] == ["Al", "pha", " beta"]
    assert events[-1].response.output_text == "Alpha beta"


async def test_a_client_that_leaves_mid_stream_saves_nothing_and_frees_the_conversation(
    sdk: Client, fake: FakeUpstream, raw: httpx.AsyncClient
) -> None:
    conversation = await call(sdk.conversations.create())
    fake.push(Reply(chunks=("first", " never", " sent"), stall_after=1, stall_s=10), Reply(chunks=("next",)))
    stream = await call(sdk.responses.create(model=GPT, input="x", conversation=conversation.id, stream=True))
    if is_async(sdk):
        async for event in stream:
            if event.type == "response.output_text.delta":
                break
        await stream.close()
    else:
        for event in stream:
            if event.type == "response.output_text.delta":
                break
        stream.close()
    assert await eventually(lambda: fake.calls[0].disconnected)
    # The conversation's lease was given up at once: the next turn runs, after nothing saved.
    again = await call(sdk.responses.create(model=GPT, input="y", conversation=conversation.id))
    assert again.output_text == "next"
    assert await thread_texts(raw, conversation.id) == [("user", "y"), ("assistant", "next")]
