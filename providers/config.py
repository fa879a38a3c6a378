"""The provider configuration file (TOML, path in `GATEWAY_CONFIG_FILE`).

```toml
[aliases]
"ftg-3.0" = "openai/gpt-4.1"

[fallbacks]
"openai/gpt-4.1" = ["anthropic/claude-sonnet-4-5", "echo"]

[endpoints.local]                 # an OpenAI-compatible server, used as `local/<model>`
base_url = "http://127.0.0.1:11434/v1"
api_key_env = "LOCAL_LLM_KEY"     # optional: the variable holding its key (no key: keyless server)
context_tokens = 32768            # optional: the window of its models
legacy_max_tokens = true          # optional: send `max_tokens` instead of `max_completion_tokens`
```

Upstream addresses come only from here and from the environment, never from a request. An
endpoint may not take the name of a provider of the table (`providers.table`).
"""

from __future__ import annotations

import re
import tomllib

import msgspec

from providers.table import NAMES

_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}\Z")


class ConfigError(ValueError):
    pass


class Endpoint(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    base_url: str
    api_key_env: str | None = None
    context_tokens: int | None = None
    legacy_max_tokens: bool = True


class ProviderConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    aliases: dict[str, str] = msgspec.field(default_factory=dict)
    fallbacks: dict[str, list[str]] = msgspec.field(default_factory=dict)
    endpoints: dict[str, Endpoint] = msgspec.field(default_factory=dict)


def load_config(path: str | None) -> ProviderConfig:
    if not path:
        return ProviderConfig()
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
        config = msgspec.convert(raw, ProviderConfig)
    except (OSError, tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    for name, endpoint in config.endpoints.items():
        if not _NAME.fullmatch(name) or name in NAMES:
            raise ConfigError(f"{path}: endpoint name {name!r} is not allowed")
        if not endpoint.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"{path}: endpoint {name!r} needs an http(s) base_url")
    return config
