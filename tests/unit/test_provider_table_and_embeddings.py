"""The provider table (routing names and families, reserved endpoint names, the adapters built),
the one upstream-error mapping, OpenAI's embeddings answer, echo's embeddings and Anthropic's refusal."""

from __future__ import annotations

import math
from pathlib import Path

import msgspec
import pytest

from providers.anthropic import AnthropicProvider
from providers.base import EmbeddingRequest
from providers.compatible import OpenAICompatibleProvider
from providers.config import ConfigError, Endpoint, ProviderConfig, load_config
from providers.echo import EMBEDDING_DIMENSIONS, EchoProvider, embedding
from providers.errors import (
    HTTP_ERRORS,
    EmbeddingsUnsupported,
    NotConfigured,
    ProviderError,
    UpstreamErrors,
    UpstreamFailed,
    UpstreamRateLimited,
    UpstreamStatus,
    UpstreamTimeout,
)
from providers.openai import OpenAIProvider
from providers.openai_wire import to_embeddings
from providers.registry import KNOWN_PROVIDERS, Registry
from providers.settings import ProviderSettings
from providers.table import TABLE, build_providers


def named(name: str) -> EchoProvider:
    provider = EchoProvider()
    provider.name = name
    return provider


PROVIDERS = {kind.name: named(kind.name) for kind in TABLE}


# -- the provider table ------------------------------------------------------------------------------


def test_the_table_names_the_known_providers_and_the_reserved_endpoint_names(tmp_path: Path) -> None:
    assert KNOWN_PROVIDERS == {kind.name for kind in TABLE} == {"echo", "openai", "anthropic"}
    for kind in TABLE:
        path = tmp_path / f"{kind.name}.toml"
        path.write_text(f'[endpoints."{kind.name}"]\nbase_url = "http://127.0.0.1:1/v1"\n')
        with pytest.raises(ConfigError, match="endpoint name"):
            load_config(str(path))


@pytest.mark.parametrize(
    ("model", "provider"),
    [("echo", "echo"), ("chatgpt-4o", "openai"), ("o4-mini", "openai"), ("claude-x", "anthropic")],
)
def test_bare_names_route_by_the_families_of_the_table(model: str, provider: str) -> None:
    route = Registry(PROVIDERS).route(model)
    assert (route.provider.name, route.model) == (provider, model)


async def test_build_providers_builds_each_table_provider_that_has_its_key_and_the_endpoints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GATEWAY_TEST_UNSET_KEY", raising=False)
    config = ProviderConfig(
        endpoints={
            "local": Endpoint(base_url="http://127.0.0.1:1/v1"),  # keyless
            "offline": Endpoint(base_url="http://127.0.0.1:1/v1", api_key_env="GATEWAY_TEST_UNSET_KEY"),
        }
    )
    keyless = build_providers(ProviderSettings(), config)
    keyed = build_providers(
        ProviderSettings(openai_api_key="sk-o", anthropic_api_key="sk-a"), ProviderConfig()
    )
    try:
        assert {name: type(p) for name, p in keyless.items()} == {
            "echo": EchoProvider,
            "local": OpenAICompatibleProvider,
        }
        assert {name: type(p) for name, p in keyed.items()} == {
            "echo": EchoProvider,
            "openai": OpenAIProvider,
            "anthropic": AnthropicProvider,
        }
        assert all(name == p.name for name, p in (keyless | keyed).items())
    finally:
        for provider in (*keyless.values(), *keyed.values()):
            await provider.aclose()


# -- the upstream-error mapping ----------------------------------------------------------------------


def test_error_mapping_maps_status_answers_and_timeouts_and_passes_everything_else() -> None:
    errors = UpstreamErrors("local", HTTP_ERRORS)
    with pytest.raises(UpstreamRateLimited) as limited, errors:
        raise UpstreamStatus(429, "3")
    assert (limited.value.provider, limited.value.retry_after) == ("local", "3")
    with pytest.raises(UpstreamFailed) as failed, errors:
        raise UpstreamStatus(409, None)
    assert (failed.value.status, failed.value.retryable) == (409, True)
    with pytest.raises(UpstreamTimeout), errors:
        raise TimeoutError
    with pytest.raises(UpstreamFailed) as unreadable, errors:
        msgspec.json.decode(b"{not json")
    assert unreadable.value.retryable and unreadable.value.__cause__ is None
    # Our own bugs and adapter errors are not the upstream's failure.
    with pytest.raises(TypeError), errors:
        raise TypeError("a bug of ours")
    with pytest.raises(NotConfigured), errors:
        raise NotConfigured("local")


# -- embeddings --------------------------------------------------------------------------------------


def test_openai_embeddings_answer_is_put_in_the_texts_order_by_index() -> None:
    data = b'{"data": [{"index": 1, "embedding": [2.0, 2.5]}, {"index": 0, "embedding": [1.0, 1.5]}],'
    result = to_embeddings(data + b' "usage": {"prompt_tokens": 3, "total_tokens": 3}}', 2)
    assert result.vectors == ((1.0, 1.5), (2.0, 2.5))
    assert result.input_tokens == 3


@pytest.mark.parametrize(
    "items",
    [
        '[{"index": 0, "embedding": [1.0]}]',  # too few
        '[{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [2.0]}]',  # the same text twice
        '[{"index": 0, "embedding": [1.0]}, {"index": 2, "embedding": [2.0]}]',  # an index not asked for
    ],
)
def test_openai_embeddings_answer_without_one_vector_per_text_is_unreadable(items: str) -> None:
    with pytest.raises(msgspec.ValidationError):
        to_embeddings(f'{{"data": {items}}}'.encode(), 2)


def cosine(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_echo_embeds_each_text_deterministically_with_unit_vectors() -> None:
    texts = ("The quick brown fox.", "", "x", "The quick brown fox.")
    first = await EchoProvider().embed(EmbeddingRequest(model="echo", texts=texts))
    again = await EchoProvider().embed(EmbeddingRequest(model="echo", texts=texts))
    assert first == again
    assert len(first.vectors) == len(texts)
    assert first.vectors[0] == first.vectors[3] != first.vectors[1]
    for vector in first.vectors:
        assert len(vector) == EMBEDDING_DIMENSIONS
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0)
    assert first.input_tokens == 5 + 0 + 1 + 5  # four characters a token


def test_echo_embeddings_of_similar_texts_are_closer_than_of_unrelated_ones() -> None:
    text = embedding("The quick brown fox jumps over the lazy dog")
    similar = embedding("the quick brown fox jumped over a lazy dog")
    unrelated = embedding("Quarterly revenue grew by twelve percent")
    assert cosine(text, similar) > 0.7 > cosine(text, unrelated)
    assert math.isclose(cosine(text, text), 1.0)


async def test_anthropic_refuses_embeddings_without_calling_the_upstream() -> None:
    # Nothing listens there: a request would fail as `UpstreamFailed`, not `EmbeddingsUnsupported`.
    provider = AnthropicProvider(api_key="sk-unused", base_url="http://127.0.0.1:9")
    try:
        with pytest.raises(EmbeddingsUnsupported) as info:
            await provider.embed(EmbeddingRequest(model="claude-x", texts=("hi",)))
    finally:
        await provider.aclose()
    assert isinstance(info.value, ProviderError)
    assert info.value.provider == "anthropic"


async def test_a_config_endpoint_s_window_is_its_own_whatever_the_model_s_name() -> None:
    local = OpenAICompatibleProvider(
        name="local", base_url="http://127.0.0.1:9/v1", api_key="none", default_context_tokens=4096
    )
    openai_api = OpenAIProvider(api_key="sk-unused", base_url="http://127.0.0.1:9/v1")
    try:
        # A local server serving a model named like OpenAI's has the window it was configured with.
        assert local.context_window("gpt-4.1") == 4096
        assert local.context_window("llama3.1:8b") == 4096
        assert openai_api.context_window("gpt-4.1") == 1_047_576
        assert openai_api.context_window("some-new-model") == 128_000
    finally:
        await local.aclose()
        await openai_api.aclose()


def test_a_completion_body_is_the_same_json_from_structs_as_from_dicts() -> None:
    """`complete` encodes the window's messages from structs; the bytes are those of the dicts the
    SDK's stream gets, and the chat format's shapes: a string for one text, parts for several."""
    import json
    import random

    from providers.base import ChatMessage, ModelRequest
    from providers.openai_wire import encode

    rng = random.Random(5)
    alphabet = ["a", "é", '"', "\\", "\n", "\u2028", "😀", " ", "<"]
    for _ in range(200):
        messages = tuple(
            ChatMessage(
                rng.choice(["system", "user", "assistant"]),
                tuple(
                    "".join(rng.choices(alphabet, k=rng.randrange(0, 12))) for _ in range(rng.randrange(1, 4))
                ),
            )
            for _ in range(rng.randrange(1, 6))
        )
        request = ModelRequest(model="m", messages=messages, temperature=0.5, max_output_tokens=9)
        adapter = OpenAICompatibleProvider(name="bench", base_url="http://127.0.0.1:9/v1", api_key="k")
        wire = encode(adapter._params(request, wire=True))
        assert wire == encode(adapter._params(request))
        sent = json.loads(wire)
        for m, out in zip(messages, sent["messages"], strict=True):
            assert out["role"] == m.role
            if len(m.texts) == 1:
                assert out["content"] == m.texts[0]
            else:
                assert out["content"] == [{"type": "text", "text": t} for t in m.texts]
        assert sent["temperature"] == 0.5 and sent["max_tokens"] == 9
