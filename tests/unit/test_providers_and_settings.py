"""Routing, the echo model, the context budget and settings parsing (no I/O)."""

from __future__ import annotations

import pytest

from gateway.core.budget import Budget, fit_in_memory
from gateway.errors import ContextLengthExceeded
from gateway.settings import SettingsError, load_settings, parse_api_keys
from providers.base import ChatMessage, Completion, ModelRequest, TextDelta
from providers.echo import EchoProvider
from providers.errors import NotConfigured, UnknownModel
from providers.registry import Registry

ECHO = EchoProvider(100)


@pytest.mark.parametrize(
    ("model", "provider", "upstream"),
    [
        ("echo", "echo", "echo"),
        ("echo/anything", "echo", "anything"),
        ("gpt-4.1", "openai", "gpt-4.1"),
        ("o3", "openai", "o3"),
        ("openai/gpt-4.1", "openai", "gpt-4.1"),
        ("claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"),
        ("anthropic/claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"),
        ("ftg-3.0", "openai", "gpt-4.1"),
    ],
)
def test_routing_by_prefix_family_and_alias(model: str, provider: str, upstream: str) -> None:
    fakes = {name: EchoProvider() for name in ("echo", "openai", "anthropic")}
    for name, fake in fakes.items():
        fake.name = name  # type: ignore[misc]
    route = Registry(fakes, aliases={"ftg-3.0": "openai/gpt-4.1"}).route(model)
    assert route.provider.name == provider and route.model == upstream


@pytest.mark.parametrize("model", ["llama-3", "mystery/x", "openai/", "o", "gpt"])
def test_unknown_models(model: str) -> None:
    with pytest.raises(UnknownModel):
        Registry({"echo": ECHO}).route(model)


@pytest.mark.parametrize("model", ["gpt-4.1", "o3-mini", "claude-3-haiku", "anthropic/claude-x"])
def test_known_provider_without_key_is_not_configured(model: str) -> None:
    with pytest.raises(NotConfigured):
        Registry({"echo": ECHO}).route(model)


async def test_echo_answers_user_messages_one_per_line_and_counts_tokens() -> None:
    msgs = (
        ChatMessage("system", ("be nice",)),
        ChatMessage("user", ("hello",)),
        ChatMessage("assistant", ("hi",)),
        ChatMessage("user", ("a", "b")),
    )
    result = await ECHO.complete(ModelRequest(model="echo", messages=msgs))
    assert result.text == "hello\na\nb"
    assert result.input_tokens == 2 + 2 + 1 + 1  # ceil(7/4) + ceil(5/4) + ceil(2/4) + ceil(2/4)
    assert result.output_tokens == 3


async def test_echo_stream_deltas_join_to_the_completion() -> None:
    msgs = (ChatMessage("user", ("one",)), ChatMessage("user", ("two",)))
    items = [i async for i in ECHO.stream(ModelRequest(model="echo", messages=msgs))]
    deltas = [i.text for i in items if isinstance(i, TextDelta)]
    final = items[-1]
    assert isinstance(final, Completion) and "".join(deltas) == final.text == "one\ntwo"
    assert len(deltas) == 2


async def test_budget_keeps_newest_history_and_system_messages() -> None:
    history = [ChatMessage("system", ("s" * 4,)), *(ChatMessage("user", (f"m{i:03}",)) for i in range(10))]
    budget = Budget(5, [ChatMessage("user", ("new!",))], ECHO.count_tokens)  # 1 token needed, 4 left
    fitted = await fit_in_memory(budget, history)
    assert fitted == [history[0], *history[-3:]]


def test_inputs_alone_over_budget_are_refused() -> None:
    with pytest.raises(ContextLengthExceeded):
        Budget(2, [ChatMessage("user", ("x" * 9,))], ECHO.count_tokens)


def test_settings_from_environment() -> None:
    s = load_settings(
        {
            "GATEWAY_API_KEYS": " k1=org1 , k2=org2,",
            "GATEWAY_PORT": "9000",
            "GATEWAY_THREAD_IDLE_TTL_S": "3",
            "GATEWAY_WORKERS": "2",
        }
    )
    assert s.api_keys == {"k1": "org1", "k2": "org2"} and s.port == 9000
    assert s.thread_idle_ttl_s == 3.0 and s.workers == 2


def test_settings_repr_hides_keys() -> None:
    s = load_settings({"GATEWAY_API_KEYS": "secret_key_123=org1"})
    assert "secret_key_123" not in repr(s) and "secret_key_123" not in str(s)


@pytest.mark.parametrize(
    "env",
    [
        {"GATEWAY_PORT": "x"},
        {"GATEWAY_PORT": "0"},
        {"GATEWAY_API_KEYS": "nokey"},
        {"GATEWAY_API_KEYS": "=org"},
        {"GATEWAY_MAX_MESSAGES_PER_THREAD": "0"},
    ],
)
def test_bad_settings_are_refused_without_echoing_keys(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    assert "nokey" not in str(info.value)


def test_parse_api_keys_empty() -> None:
    assert parse_api_keys("") == {}
