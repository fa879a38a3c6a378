"""Shared helpers of the provider suite: the three `Case`s (OpenAI, Anthropic, an OpenAI-compatible
endpoint of the config file), the config file, the fake upstreams, the settings that point the
gateway at them, and shorthands to ask and to read answers, streams and threads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.settings import Settings
from tests.conftest import Api, make_settings, ok, sse_events
from tests.fakes.upstream import Call, Dialect, FakeUpstream

OPENAI_KEY = "sk-test-openai-7f3a9c1e5b2d4f60"
ANTHROPIC_KEY = "sk-test-anthropic-2c8e4a6b0d1f3e57"
LOCAL_KEY = "sk-test-local-9d7b5f3a1c2e4b68"
LOCAL_KEY_ENV = "GATEWAY_TEST_FAKE_LOCAL_LLM_KEY"
ANTHROPIC_MAX_TOKENS = 1234
ATTEMPTS = 2
ATTEMPT_TIMEOUT_S = 0.5
TOTAL_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Case:
    id: str
    fake: str  # which fake server answers it
    dialect: Dialect
    model: str  # as a caller names it
    upstream: str  # as the upstream receives it
    key: str
    alias: str  # a config alias for `model`
    primary: str  # a model with `[fallbacks]` in the config file ...
    backup: str  # ... which fall back to this fake ...
    backup_upstream: str  # ... and this model there

    def __str__(self) -> str:
        return self.id


# Model names that no SDK version lists as deprecated: the Anthropic SDK warns on those, and the
# suite turns warnings into errors.
CASES = [
    Case(
        id="openai",
        fake="openai",
        dialect="openai",
        model="openai/gpt-4.1",
        upstream="gpt-4.1",
        key=OPENAI_KEY,
        alias="house-openai",
        primary="openai/gpt-primary",
        backup="anthropic",
        backup_upstream="claude-backup",
    ),
    Case(
        id="anthropic",
        fake="anthropic",
        dialect="anthropic",
        model="anthropic/claude-gateway-test",
        upstream="claude-gateway-test",
        key=ANTHROPIC_KEY,
        alias="house-anthropic",
        primary="anthropic/claude-primary",
        backup="local",
        backup_upstream="backup-model",
    ),
    Case(
        id="compatible",
        fake="local",
        dialect="openai",
        model="local/llama-3.1-8b",
        upstream="llama-3.1-8b",
        key=LOCAL_KEY,
        alias="house-local",
        primary="local/primary-model",
        backup="openai",
        backup_upstream="gpt-backup",
    ),
]


def config_text(urls: dict[str, str]) -> str:
    return f"""
[aliases]
"house-openai" = "openai/gpt-4.1"
"house-anthropic" = "anthropic/claude-gateway-test"
"house-local" = "local/llama-3.1-8b"

[fallbacks]
"openai/gpt-primary" = ["anthropic/claude-backup"]
"anthropic/claude-primary" = ["local/backup-model"]
"local/primary-model" = ["openai/gpt-backup"]

[endpoints.local]
base_url = "{urls["local"]}/v1"
api_key_env = "{LOCAL_KEY_ENV}"
"""


class Upstreams:
    """The three fake servers of this module, one per provider."""

    def __init__(self) -> None:
        self.fakes = {name: FakeUpstream() for name in ("openai", "anthropic", "local")}
        self.urls: dict[str, str] = {}

    def __getitem__(self, name: str) -> FakeUpstream:
        return self.fakes[name]

    def calls(self) -> list[Call]:
        return [c for fake in self.fakes.values() for c in fake.calls]

    def reset(self) -> None:
        for fake in self.fakes.values():
            fake.reset()


def settings_for(tmp_path: Path, up: Upstreams, **overrides: Any) -> Settings:
    config = tmp_path / "providers.toml"
    config.write_text(config_text(up.urls))
    values: dict[str, Any] = {
        "openai_api_key": OPENAI_KEY,
        "openai_base_url": f"{up.urls['openai']}/v1",
        "anthropic_api_key": ANTHROPIC_KEY,
        "anthropic_base_url": up.urls["anthropic"],
        "anthropic_max_tokens": ANTHROPIC_MAX_TOKENS,
        "provider_timeout_s": TOTAL_TIMEOUT_S,
        "provider_attempt_timeout_s": ATTEMPT_TIMEOUT_S,
        "provider_attempts": ATTEMPTS,
        "config_file": str(config),
        **overrides,
    }
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return make_settings(data, **values)


def system(text: str) -> dict[str, Any]:
    return {"role": "system", "texts": [{"text": text}]}


async def ask(api: Api, model: str, *inputs: dict[str, Any], **fields: Any) -> httpx.Response:
    return await api.post("/v1/model/response", json={"model": model, "inputs": list(inputs), **fields})


def events_of(r: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"].startswith("text/event-stream")
    return sse_events(r.text)


def names(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [n for n, _ in events]


def deltas(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [d["delta"] for n, d in events if n == "response.output_text.delta"]


def key_header(call: Call) -> str:
    """The credential the SDK sent (Bearer for OpenAI and for this Anthropic SDK, or x-api-key)."""
    return call.headers.get("x-api-key") or call.headers.get("authorization", "").removeprefix("Bearer ")


async def thread_snapshot(api: Api, thread_id: str) -> tuple[int, dict[str, int], list[tuple[str, str]]]:
    t = ok(await api.thread(thread_id))
    messages = [(m["role"], " | ".join(x["text"] for x in m["texts"])) for m in await api.messages(thread_id)]
    return t["message_count"], t["usage"], messages


def openai_text(content: list[str]) -> Any:
    return content[0] if len(content) == 1 else [{"type": "text", "text": t} for t in content]


def anthropic_blocks(*texts: str) -> list[dict[str, str]]:
    return [{"type": "text", "text": t} for t in texts]


cases = pytest.mark.parametrize("case", CASES, ids=str)
