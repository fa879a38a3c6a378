"""Pure mapping rules of the providers: Anthropic's message shape, registry chains, config loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers.anthropic import OPENING, to_messages
from providers.base import ChatMessage, ModelRequest
from providers.config import ConfigError, Endpoint, load_config
from providers.echo import EchoProvider
from providers.errors import NotConfigured, UnknownModel
from providers.registry import Registry


def request(*messages: tuple[str, tuple[str, ...]]) -> ModelRequest:
    return ModelRequest(model="m", messages=tuple(ChatMessage(r, t) for r, t in messages))  # type: ignore[arg-type]


def blocks(*texts: str) -> list[dict[str, str]]:
    return [{"type": "text", "text": t} for t in texts]


# -- anthropic.to_messages ---------------------------------------------------------------------------


def test_system_messages_become_one_system_prompt_in_order() -> None:
    system, turns = to_messages(
        request(
            ("system", ("first rule",)),
            ("user", ("hi",)),
            ("system", ("second rule", "third rule")),
            ("assistant", ("hello",)),
        )
    )
    assert system == "first rule\n\nsecond rule\n\nthird rule"
    assert turns == [
        {"role": "user", "content": blocks("hi")},
        {"role": "assistant", "content": blocks("hello")},
    ]


def test_no_system_message_means_no_system_prompt() -> None:
    system, turns = to_messages(request(("user", ("hi",))))
    assert system is None
    assert turns == [{"role": "user", "content": blocks("hi")}]


def test_consecutive_same_role_messages_are_merged_even_across_a_system_message() -> None:
    _, turns = to_messages(
        request(
            ("user", ("a",)),
            ("user", ("b", "c")),
            ("system", ("s",)),
            ("user", ("d",)),
            ("assistant", ("x",)),
            ("assistant", ("y",)),
            ("user", ("e",)),
        )
    )
    assert turns == [
        {"role": "user", "content": blocks("a", "b", "c", "d")},
        {"role": "assistant", "content": blocks("x", "y")},
        {"role": "user", "content": blocks("e")},
    ]


def test_a_conversation_starting_with_the_assistant_gets_an_opening_user_turn() -> None:
    system, turns = to_messages(request(("system", ("s",)), ("assistant", ("earlier",)), ("user", ("now",))))
    assert system == "s"
    assert turns == [
        {"role": "user", "content": blocks(OPENING)},
        {"role": "assistant", "content": blocks("earlier")},
        {"role": "user", "content": blocks("now")},
    ]


def test_to_messages_does_not_alias_between_turns() -> None:
    # Merging must not mutate a list shared with another turn or with the request.
    req = request(("user", ("a",)), ("user", ("b",)))
    _, first = to_messages(req)
    _, second = to_messages(req)
    assert first == second == [{"role": "user", "content": blocks("a", "b")}]


def test_only_system_messages_give_no_turns() -> None:
    system, turns = to_messages(request(("system", ("only",))))
    assert (system, turns) == ("only", [])


# -- registry chains ---------------------------------------------------------------------------------


def named(name: str) -> EchoProvider:
    provider = EchoProvider()
    provider.name = name
    return provider


PROVIDERS = {name: named(name) for name in ("echo", "openai", "anthropic", "local")}
KNOWN = frozenset({"echo", "openai", "anthropic", "local", "offline"})


def chain(registry: Registry, model: str) -> list[tuple[str, str]]:
    return [(r.provider.name, r.model) for r in registry.chain(model)]


def test_chain_is_the_route_then_the_servable_fallbacks() -> None:
    registry = Registry(
        PROVIDERS,
        fallbacks={
            "openai/gpt-4.1": [
                "anthropic/claude-x",
                "mystery/model",  # unknown: skipped
                "offline/m",  # known but without an adapter: skipped
                "openai/../evil",  # not a model name: skipped
                "echo",
            ]
        },
        known=KNOWN,
    )
    assert chain(registry, "openai/gpt-4.1") == [
        ("openai", "gpt-4.1"),
        ("anthropic", "claude-x"),
        ("echo", "echo"),
    ]


def test_chain_without_fallbacks_is_the_route_alone() -> None:
    assert chain(Registry(PROVIDERS), "gpt-4.1") == [("openai", "gpt-4.1")]


def test_fallbacks_are_found_by_alias_and_by_its_target() -> None:
    registry = Registry(
        PROVIDERS,
        aliases={"house": "openai/gpt-4.1", "other-house": "anthropic/claude-x"},
        fallbacks={"openai/gpt-4.1": ["echo"], "other-house": ["local/llama"]},
        known=KNOWN,
    )
    assert chain(registry, "house") == [("openai", "gpt-4.1"), ("echo", "echo")]
    assert chain(registry, "other-house") == [("anthropic", "claude-x"), ("local", "llama")]
    # The fallbacks of an alias are its own: the target model named directly has none.
    assert chain(registry, "anthropic/claude-x") == [("anthropic", "claude-x")]


def test_the_model_itself_must_be_servable() -> None:
    registry = Registry({"echo": PROVIDERS["echo"]}, fallbacks={"gpt-4.1": ["echo"]})
    with pytest.raises(NotConfigured):
        registry.chain("gpt-4.1")
    with pytest.raises(UnknownModel):
        registry.chain("mystery-model")


def test_endpoint_names_route_as_providers() -> None:
    registry = Registry(PROVIDERS, known=KNOWN)
    assert chain(registry, "local/meta-llama/Llama-3.1-8B-Instruct") == [
        ("local", "meta-llama/Llama-3.1-8B-Instruct")
    ]
    assert chain(registry, "local/llama3.1:8b") == [("local", "llama3.1:8b")]
    with pytest.raises(NotConfigured):
        registry.chain("offline/m")


@pytest.mark.parametrize(
    "model",
    [
        "http://evil.example/x",
        "openai/../x",
        "openai/a/../../b",
        "openai/./x",
        "openai/a//b",
        "openai/x?y=1",
        "openai/x#y",
        "openai/x y",
        "openai/@evil",
        "openai/%2e%2e",
        "openai/" + "x" * 300,
        "o3\n",
        "gpt-4.1\\..\\x",
    ],
)
def test_names_that_could_address_something_else_are_unknown(model: str) -> None:
    with pytest.raises(UnknownModel):
        Registry(PROVIDERS, known=KNOWN).route(model)


# -- config loading ----------------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "providers.toml"
    path.write_text(text)
    return str(path)


def test_no_file_is_an_empty_config() -> None:
    config = load_config(None)
    assert (config.aliases, config.fallbacks, config.endpoints) == ({}, {}, {})


def test_a_full_config_loads(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
[aliases]
"ftg-3.0" = "openai/gpt-4.1"

[fallbacks]
"openai/gpt-4.1" = ["anthropic/claude-x", "echo"]

[endpoints.local]
base_url = "http://127.0.0.1:11434/v1"
api_key_env = "LOCAL_LLM_KEY"
context_tokens = 32768
legacy_max_tokens = false
""",
        )
    )
    assert config.aliases == {"ftg-3.0": "openai/gpt-4.1"}
    assert config.fallbacks == {"openai/gpt-4.1": ["anthropic/claude-x", "echo"]}
    assert config.endpoints == {
        "local": Endpoint(
            base_url="http://127.0.0.1:11434/v1",
            api_key_env="LOCAL_LLM_KEY",
            context_tokens=32768,
            legacy_max_tokens=False,
        )
    }


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[aliases\n", "providers.toml"),  # not TOML
        ('aliases = "x"', "providers.toml"),  # wrong type
        ("[unknown]\nx = 1", "providers.toml"),  # unknown section
        ('[endpoints.local]\nbase_url = "http://h/v1"\nbogus = 1', "providers.toml"),  # unknown field
        ("[endpoints.local]\napi_key_env = 'K'", "providers.toml"),  # no base_url
        ('[fallbacks]\n"gpt-4.1" = "echo"', "providers.toml"),  # not a list
    ],
)
def test_malformed_files_are_config_errors(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert fragment in str(info.value)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_config(str(tmp_path / "absent.toml"))


@pytest.mark.parametrize(
    "name", ["openai", "anthropic", "echo", "Local", "-x", "a/b", "a.b", "x" * 65, "with space"]
)
def test_bad_endpoint_names_are_refused(tmp_path: Path, name: str) -> None:
    text = f'[endpoints."{name}"]\nbase_url = "http://127.0.0.1:1/v1"\n'
    with pytest.raises(ConfigError, match="endpoint name"):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize(
    "base_url",
    ["ftp://h/v1", "file:///etc/passwd", "127.0.0.1:8000/v1", "", "javascript:alert(1)", "HTTP//x"],
)
def test_endpoints_need_an_http_base_url(tmp_path: Path, base_url: str) -> None:
    text = f'[endpoints.local]\nbase_url = "{base_url}"\n'
    with pytest.raises(ConfigError, match="http"):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:11434/v1", "https://llm.internal.example/v1"])
def test_http_and_https_base_urls_are_accepted(tmp_path: Path, base_url: str) -> None:
    text = f'[endpoints.local]\nbase_url = "{base_url}"\n'
    assert load_config(write(tmp_path, text)).endpoints["local"].base_url == base_url
