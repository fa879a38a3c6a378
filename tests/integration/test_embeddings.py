"""`embed` of both OpenAI adapters against the fake upstream over real HTTP.

The adapters are built as the app builds them (`build_providers`): OpenAI's from the settings (the
official SDK), `local` from a config-file endpoint (the direct client). Each test runs on both: the
exact upstream request, the mapping of vectors and usage, and every scripted failure.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import pytest

from gateway.core.calls import Caller, CallPolicy
from gateway.errors import ProviderNotConfigured, RateLimited
from providers.anthropic import AnthropicProvider
from providers.base import EmbeddingRequest, Embeddings, Provider
from providers.compatible import OpenAICompatibleProvider
from providers.config import Endpoint, ProviderConfig
from providers.errors import UpstreamFailed, UpstreamRateLimited, UpstreamTimeout
from providers.openai import OpenAIProvider
from providers.registry import Registry
from providers.settings import ProviderSettings
from providers.table import NAMES, build_providers
from tests.fakes.behaviours import Broken, Fail, Reply, fake_vector, slow
from tests.fakes.server import eventually, serve
from tests.fakes.upstream import FakeUpstream

OPENAI_KEY = "sk-test-openai-embed-5e2c7a9b1d3f4a68"
LOCAL_KEY = "sk-test-local-embed-8a6c4e2b0d9f1b37"
LOCAL_KEY_ENV = "GATEWAY_TEST_FAKE_EMBED_KEY"
ATTEMPT_TIMEOUT_S = 0.5
MODEL = "text-embedding-3-small"
# The adapter's name, its class, the key it sends.
ADAPTERS = {
    "openai": (OpenAIProvider, OPENAI_KEY),
    "local": (OpenAICompatibleProvider, LOCAL_KEY),
}
adapters = pytest.mark.parametrize("name", list(ADAPTERS), ids=["sdk", "compatible"])


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeUpstream, str]]:
    fake = FakeUpstream()
    with serve(fake) as url:
        yield fake, url


@pytest.fixture
def fake(served: tuple[FakeUpstream, str]) -> FakeUpstream:
    served[0].reset()
    return served[0]


@pytest.fixture
async def providers(
    served: tuple[FakeUpstream, str], fake: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[dict[str, Provider]]:
    url = served[1]
    monkeypatch.setenv(LOCAL_KEY_ENV, LOCAL_KEY)
    settings = ProviderSettings(
        attempt_timeout_s=ATTEMPT_TIMEOUT_S, openai_api_key=OPENAI_KEY, openai_base_url=f"{url}/v1"
    )
    config = ProviderConfig(endpoints={"local": Endpoint(base_url=f"{url}/v1", api_key_env=LOCAL_KEY_ENV)})
    built = build_providers(settings, config)
    yield built
    for provider in built.values():
        await provider.aclose()


@adapters
async def test_embed_sends_one_embeddings_request_and_maps_vectors_and_usage(
    name: str, providers: dict[str, Provider], fake: FakeUpstream
) -> None:
    kind, key = ADAPTERS[name]
    provider = providers[name]
    assert type(provider) is kind
    fake.push(Reply(vectors=((0.25, -0.5, 1.0), (0.0, 0.125, -2.0)), input_tokens=13))

    result = await provider.embed(EmbeddingRequest(model=MODEL, texts=("first text", "second")))

    assert result == Embeddings(vectors=((0.25, -0.5, 1.0), (0.0, 0.125, -2.0)), input_tokens=13)
    (call,) = fake.calls
    assert call.path == "/v1/embeddings"
    assert call.body == {"model": MODEL, "input": ["first text", "second"], "encoding_format": "float"}
    assert call.headers["authorization"] == f"Bearer {key}"
    # OpenAI's own API through the SDK, the config endpoint through the direct client.
    agent = call.headers.get("user-agent", "")
    if kind is OpenAICompatibleProvider:
        assert agent == "thread-gateway"
    else:
        assert "python" in agent.lower(), agent


@adapters
async def test_embed_gives_one_vector_per_text_in_the_texts_order(
    name: str, providers: dict[str, Provider], fake: FakeUpstream
) -> None:
    texts = ("a", "bb", "ccc", "", "a longer text")
    result = await providers[name].embed(EmbeddingRequest(model=MODEL, texts=texts))
    assert result.vectors == tuple(fake_vector(i, t) for i, t in enumerate(texts))
    assert fake.calls[0].body["input"] == list(texts)


@adapters
async def test_embed_429_is_rate_limited_with_the_upstreams_retry_after(
    name: str, providers: dict[str, Provider], fake: FakeUpstream
) -> None:
    fake.push(Fail(429, headers={"retry-after": "7"}))
    with pytest.raises(UpstreamRateLimited) as info:
        await providers[name].embed(EmbeddingRequest(model=MODEL, texts=("hi",)))
    assert (info.value.provider, info.value.retry_after) == (name, "7")
    assert len(fake.calls) == 1


@adapters
@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (408, True), (400, False), (401, False)]
)
async def test_embed_error_status_is_a_failure_retryable_by_status_without_the_body(
    name: str, status: int, retryable: bool, providers: dict[str, Provider], fake: FakeUpstream
) -> None:
    key = ADAPTERS[name][1]
    fake.push(Fail(status, message=f"Incorrect API key provided: {key}"))
    with pytest.raises(UpstreamFailed) as info:
        await providers[name].embed(EmbeddingRequest(model=MODEL, texts=("hi",)))
    assert (info.value.provider, info.value.status, info.value.retryable) == (name, status, retryable)
    assert key not in str(info.value) and "Incorrect API key" not in str(info.value)


@adapters
async def test_embed_broken_connection_is_a_retryable_failure(
    name: str, providers: dict[str, Provider], fake: FakeUpstream
) -> None:
    fake.push(Broken())
    with pytest.raises(UpstreamFailed) as info:
        await providers[name].embed(EmbeddingRequest(model=MODEL, texts=("hi",)))
    assert (info.value.status, info.value.retryable) == (None, True)


@adapters
async def test_embed_slow_upstream_times_out_within_one_attempt(
    name: str, providers: dict[str, Provider], fake: FakeUpstream
) -> None:
    fake.push(slow(10))
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        await providers[name].embed(EmbeddingRequest(model=MODEL, texts=("hi",)))
    assert ATTEMPT_TIMEOUT_S <= time.monotonic() - started < ATTEMPT_TIMEOUT_S + 0.5
    # The abandoned request's connection was closed.
    assert await eventually(lambda: fake.calls[0].disconnected)


@adapters
async def test_embed_answer_without_a_vector_per_text_is_the_upstreams_failure(
    name: str, providers: dict[str, Provider], fake: FakeUpstream
) -> None:
    fake.push(Reply(vectors=((1.0, 0.0),)))
    with pytest.raises(UpstreamFailed) as info:
        await providers[name].embed(EmbeddingRequest(model=MODEL, texts=("one", "two")))
    assert (info.value.status, info.value.retryable) == (None, True)


# -- through the gateway's one call policy (gateway.core.calls) -------------------------------------


def caller(providers: dict[str, Provider], fallbacks: dict[str, list[str]] | None = None) -> Caller:
    registry = Registry(providers, fallbacks=fallbacks, known=NAMES | {"local"})
    return Caller(registry, CallPolicy(total_timeout_s=3.0, attempts=2, backoff_s=0.01))


async def test_embed_through_the_call_policy_retries_a_5xx_then_answers(
    providers: dict[str, Provider], fake: FakeUpstream
) -> None:
    fake.push(Fail(503))
    fake.push(Reply(vectors=((1.0, 0.0),), input_tokens=2))
    calls = caller(providers)
    result = await calls.embed(calls.routes(f"local/{MODEL}"), EmbeddingRequest(model=MODEL, texts=("x",)))
    assert result.vectors == ((1.0, 0.0),)
    assert len(fake.calls) == 2 and all(c.body["model"] == MODEL for c in fake.calls)


async def test_embed_falls_back_to_the_next_embedding_model(
    providers: dict[str, Provider], fake: FakeUpstream
) -> None:
    for _ in range(2):
        fake.push(Fail(500))
    fake.push(Reply(vectors=((0.5,),), input_tokens=1))
    calls = caller(providers, {f"local/{MODEL}": [f"openai/{MODEL}-backup"]})
    result = await calls.embed(calls.routes(f"local/{MODEL}"), EmbeddingRequest(model=MODEL, texts=("x",)))
    assert result.vectors == ((0.5,),)
    assert [c.body["model"] for c in fake.calls] == [MODEL, MODEL, f"{MODEL}-backup"]


async def test_embed_429_through_the_call_policy_is_429_with_retry_after_and_no_retry(
    providers: dict[str, Provider], fake: FakeUpstream
) -> None:
    fake.push(Fail(429, headers={"retry-after": "9"}))
    calls = caller(providers)
    with pytest.raises(RateLimited) as caught:
        await calls.embed(calls.routes(f"local/{MODEL}"), EmbeddingRequest(model=MODEL, texts=("x",)))
    assert caught.value.headers == {"Retry-After": "9"}
    assert len(fake.calls) == 1


async def test_embed_on_a_provider_without_embeddings_is_not_configured() -> None:
    anthropic = AnthropicProvider(api_key="sk-unused", base_url="http://127.0.0.1:9")
    try:
        calls = caller({"anthropic": anthropic})
        with pytest.raises(ProviderNotConfigured) as caught:
            await calls.embed(
                calls.routes("anthropic/claude-embed"), EmbeddingRequest(model="claude-embed", texts=("x",))
            )
        assert caught.value.status == 503 and "anthropic" in caught.value.message
    finally:
        await anthropic.aclose()
