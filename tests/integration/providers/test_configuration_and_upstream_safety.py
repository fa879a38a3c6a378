"""SPEC §3.3, §7: missing keys, aliases from the config file, secrets in upstream errors, and upstream
addresses that a caller must not be able to choose."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import KEY_A, Api, err, ok, running, user
from tests.fakes.behaviours import Fail
from tests.integration.providers.helpers import (
    ATTEMPTS,
    CASES,
    LOCAL_KEY_ENV,
    Case,
    Upstreams,
    ask,
    cases,
    key_header,
    settings_for,
)

pytestmark = pytest.mark.asyncio(loop_scope="package")  # the package's one gateway (conftest.py)


# -- configuration ---------------------------------------------------------------------------------


@cases
async def test_provider_without_key_is_503_not_configured(
    case: Case, tmp_path: Path, up: Upstreams, monkeypatch: pytest.MonkeyPatch
) -> None:
    overrides: dict[str, Any] = {}
    if case.fake == "openai":
        overrides["openai_api_key"] = None
    elif case.fake == "anthropic":
        overrides["anthropic_api_key"] = None
    else:
        monkeypatch.delenv(LOCAL_KEY_ENV)
    async with running(settings_for(tmp_path, up, **overrides)) as client:
        api = Api(client, KEY_A)
        for model in (case.model, case.alias, case.primary):
            for stream in (False, True):
                # Checked before the model is called: plain JSON even for a stream.
                err(await ask(api, model, user("hi"), stream=stream), 503, "PROVIDER_NOT_CONFIGURED")
        # The other providers still answer.
        other = next(c for c in CASES if c.fake != case.fake)
        ok(await ask(api, other.model, user("hi")))
    assert up[case.fake].calls == []


@cases
async def test_alias_from_the_config_file_routes_to_its_model(case: Case, api: Api, up: Upstreams) -> None:
    body = ok(await ask(api, case.alias, user("hi")))
    assert body["model"] == case.alias
    assert [c.body["model"] for c in up.calls()] == [case.upstream]
    assert up[case.fake].calls


@cases
async def test_upstream_error_bodies_never_leak_the_key(
    case: Case,
    api: Api,
    up: Upstreams,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    leak = f"Incorrect API key provided: {case.key}. Find your key at https://example.invalid/keys"
    fake = up[case.fake]
    fake.push(Fail(401, message=leak, headers={"x-echo-key": case.key}))
    r = await ask(api, case.model, user("hi"))
    err(r, 502, "PROVIDER_ERROR")
    answers = [r.text, str(r.headers)]

    fake.push(*[Fail(500, message=leak)] * ATTEMPTS, Fail(429, message=leak, headers={"retry-after": "1"}))
    answers.append((await ask(api, case.model, user("hi"), stream=True)).text)
    r = await ask(api, case.model, user("hi"))
    err(r, 429, "RATE_LIMITED")
    answers += [r.text, str(r.headers)]
    # Plain text bodies too, as some compatible servers send.
    fake.push(Fail(502, body=leak), Fail(502, body=leak))
    answers.append((await ask(api, case.model, user("hi"))).text)

    assert all(key_header(c) == case.key for c in fake.calls)  # the key did reach the upstream
    out, errors = capsys.readouterr()
    logs = caplog.text
    assert "provider_attempt_failed" in out  # the retries above were logged ...
    for text in (*answers, out, errors, logs):
        assert case.key not in text  # ... but the key never was
        assert "Incorrect API key" not in text


# -- no caller-chosen upstream ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [
        "http://evil.example/x",
        "https://127.0.0.1:1/v1",
        "//evil.example/x",
        "openai/../x",
        "openai/../../v1/admin",
        "local/../x",
        "local/./llama",
        "anthropic/claude-x?url=http://evil",
        "gpt-4.1#frag",
        "openai/gpt 4.1",
        "openai/@evil.example",
        "openai/%2e%2e/x",
        "evil.example:443/x",
    ],
)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_no_caller_controlled_upstream_address(
    model: str, stream: bool, api: Api, up: Upstreams
) -> None:
    err(await ask(api, model, user("hi"), stream=stream), 404, "MODEL_NOT_FOUND")
    assert up.calls() == []


@pytest.mark.parametrize("field", ["base_url", "api_base", "endpoint", "provider"])
async def test_request_fields_cannot_name_an_upstream(field: str, api: Api, up: Upstreams) -> None:
    r = await ask(api, "openai/gpt-4.1", user("hi"), **{field: "http://evil.example/v1"})
    err(r, 422, "VALIDATION_ERROR")
    assert up.calls() == []
