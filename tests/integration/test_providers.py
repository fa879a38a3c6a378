"""The provider adapters against fake upstreams over real HTTP (SPEC §3.3, §7).

One contract, parametrized over OpenAI, Anthropic and an OpenAI-compatible endpoint named in a TOML
config file: the exact upstream request, the mapping of answers, usage and stream chunks, every
scripted failure, fallbacks, aliases, missing keys, secrets in upstream errors, and upstream
addresses that a caller must not be able to choose.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import KEY_A, Api, err, make_settings, ok, running, sse_events, uid, user
from tests.fakes.behaviours import Behaviour, Broken, Fail, Reply, slow
from tests.fakes.server import eventually, serve
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


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    ups = Upstreams()
    with serve(ups["openai"]) as o, serve(ups["anthropic"]) as a, serve(ups["local"]) as loc:
        ups.urls = {"openai": o, "anthropic": a, "local": loc}
        yield ups


@pytest.fixture
def up(upstreams: Upstreams, monkeypatch: pytest.MonkeyPatch) -> Upstreams:
    upstreams.reset()
    monkeypatch.setenv(LOCAL_KEY_ENV, LOCAL_KEY)
    return upstreams


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


# One gateway serves most of the module, behind uvicorn on a real socket (the SDK clients and the app
# cost more to build than most tests take); tests isolate themselves by thread ids and by resetting
# the fakes. Tests that need other settings build their own app.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def gateway_url(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv(LOCAL_KEY_ENV, LOCAL_KEY)  # read when the adapters are built
        app = create_app(settings_for(tmp_path_factory.mktemp("gateway"), upstreams))
    with serve(app, lifespan="on") as url:
        yield url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http(gateway_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        yield client


@pytest.fixture
def api(http: httpx.AsyncClient, up: Upstreams) -> Api:
    return Api(http, KEY_A)  # type: ignore[arg-type]  # Api only needs `request`


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


# -- requests and answers --------------------------------------------------------------------------


@cases
async def test_exact_upstream_request_answer_and_usage_for_a_thread_with_history(
    case: Case, api: Api, up: Upstreams
) -> None:
    fake = up[case.fake]
    fake.push(
        Reply(chunks=("First ", "answer."), input_tokens=17, output_tokens=4),
        Reply(chunks=("Second answer.",), input_tokens=41, output_tokens=9),
    )
    thread = uid("thread")
    first = ok(await ask(api, case.model, system("You are terse."), user("First question?"), thread=thread))
    assert first["output_text"] == "First answer."
    assert first["model"] == case.model
    assert first["usage"] == {"input_tokens": 17, "output_tokens": 4, "total_tokens": 21}

    second = ok(
        await ask(
            api,
            case.model,
            user("Second question?"),
            thread=thread,
            instructions="Answer in French.",
            temperature=0.5,
            max_output_tokens=50,
        )
    )
    assert second["output_text"] == "Second answer."
    assert second["usage"] == {"input_tokens": 41, "output_tokens": 9, "total_tokens": 50}
    count, usage, _ = await thread_snapshot(api, thread)
    assert count == 5  # the system input is part of the thread
    assert usage == {"input_tokens": 17 + 41, "output_tokens": 4 + 9}

    assert [c.path for c in fake.calls] == [
        "/v1/chat/completions" if case.dialect == "openai" else "/v1/messages"
    ] * 2
    assert all(key_header(c) == case.key for c in fake.calls)
    assert [c for c in up.calls() if c not in fake.calls] == []
    # Config endpoints go through the direct client, OpenAI and Anthropic through their SDKs.
    agents = {c.headers.get("user-agent", "") for c in fake.calls}
    if case.id == "compatible":
        assert agents == {"thread-gateway"}
    else:
        assert all("python" in a.lower() for a in agents), agents
    body = fake.calls[1].body
    if case.dialect == "openai":
        assert body == {
            "model": case.upstream,
            "messages": [
                {"role": "system", "content": "Answer in French."},
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "First question?"},
                {"role": "assistant", "content": "First answer."},
                {"role": "user", "content": "Second question?"},
            ],
            "temperature": 0.5,
            # OPENAI_BASE_URL set or a config endpoint: compatible servers know `max_tokens`.
            "max_tokens": 50,
        }
    else:
        assert body == {
            "model": case.upstream,
            "system": "Answer in French.\n\nYou are terse.",
            "messages": [
                {"role": "user", "content": anthropic_blocks("First question?")},
                {"role": "assistant", "content": anthropic_blocks("First answer.")},
                {"role": "user", "content": anthropic_blocks("Second question?")},
            ],
            "temperature": 0.5,
            "max_tokens": 50,
        }
    # The first turn's request had no instructions, no sampling fields; Anthropic's required
    # `max_tokens` takes the configured default.
    first_body = fake.calls[0].body
    if case.dialect == "openai":
        assert first_body == {
            "model": case.upstream,
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "First question?"},
            ],
        }
    else:
        assert first_body == {
            "model": case.upstream,
            "system": "You are terse.",
            "messages": [{"role": "user", "content": anthropic_blocks("First question?")}],
            "max_tokens": ANTHROPIC_MAX_TOKENS,
        }


@cases
async def test_stream_forwards_each_upstream_chunk_as_its_own_delta(
    case: Case, api: Api, up: Upstreams
) -> None:
    fake = up[case.fake]
    fake.push(Reply(chunks=("Hel", "lo", ", wor", "ld"), input_tokens=12, output_tokens=5))
    thread = uid("thread")
    events = events_of(await ask(api, case.model, user("Say hello."), thread=thread, stream=True))
    assert deltas(events) == ["Hel", "lo", ", wor", "ld"]
    assert names(events) == [
        "response.created",
        *["response.output_text.delta"] * 4,
        "response.output_text.done",
        "response.completed",
    ]
    completed = events[-1][1]["response"]
    assert completed["output_text"] == "Hello, world"
    assert completed["usage"] == {"input_tokens": 12, "output_tokens": 5, "total_tokens": 17}
    count, usage, messages = await thread_snapshot(api, thread)
    assert (count, usage) == (2, {"input_tokens": 12, "output_tokens": 5})
    assert messages == [("user", "Say hello."), ("assistant", "Hello, world")]

    (call,) = fake.calls
    assert call.stream
    if case.dialect == "openai":
        # Usage arrives only when asked for, in a last chunk.
        assert call.body["stream_options"] == {"include_usage": True}


# -- failures --------------------------------------------------------------------------------------


@cases
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_429_answers_rate_limited_with_retry_after_at_once(
    case: Case, stream: bool, api: Api, up: Upstreams
) -> None:
    # The model has fallbacks: a rate limit must not be taken to another provider either.
    up[case.fake].push(Fail(429, headers={"retry-after": "7"}))
    thread = uid("thread")
    r = await ask(api, case.primary, user("hi"), thread=thread, stream=stream)
    if stream:
        events = events_of(r)
        assert names(events) == ["response.created", "response.failed"]
        assert events[-1][1]["error"]["code"] == "RATE_LIMITED"
    else:
        err(r, 429, "RATE_LIMITED")
        assert r.headers["retry-after"] == "7"
    assert len(up[case.fake].calls) == 1
    assert up[case.backup].calls == []
    err(await api.thread(thread), 404, "THREAD_NOT_FOUND")


@cases
async def test_500_is_retried_up_to_the_attempts_then_502(case: Case, api: Api, up: Upstreams) -> None:
    fake = up[case.fake]
    fake.push(*[Fail(500)] * (ATTEMPTS + 1))
    thread = uid("thread")
    err(await ask(api, case.model, user("hi"), thread=thread), 502, "PROVIDER_ERROR")
    assert len(fake.calls) == ATTEMPTS
    err(await api.thread(thread), 404, "THREAD_NOT_FOUND")

    # A 500 followed by a success is invisible to the caller.
    fake.reset()
    fake.push(Fail(500), Reply(chunks=("recovered",)))
    assert ok(await ask(api, case.model, user("hi"), thread=thread))["output_text"] == "recovered"
    assert len(fake.calls) == 2


@cases
async def test_400_is_a_502_and_is_not_retried_nor_falls_back(case: Case, api: Api, up: Upstreams) -> None:
    up[case.fake].push(Fail(400, message="bad request"), Reply())
    err(await ask(api, case.primary, user("hi")), 502, "PROVIDER_ERROR")
    assert len(up[case.fake].calls) == 1
    assert up[case.backup].calls == []


@cases
async def test_slow_upstream_is_504_within_the_configured_bounds(case: Case, api: Api, up: Upstreams) -> None:
    fake = up[case.fake]
    fake.push(*[slow(10)] * (ATTEMPTS + 1))
    started = time.monotonic()
    err(await ask(api, case.model, user("hi")), 504, "PROVIDER_TIMEOUT")
    elapsed = time.monotonic() - started
    assert ATTEMPTS * ATTEMPT_TIMEOUT_S <= elapsed < TOTAL_TIMEOUT_S + 0.5, elapsed
    assert len(fake.calls) == ATTEMPTS
    # Each timed-out attempt's request was abandoned: the upstream saw its connection close.
    assert await eventually(lambda: all(c.disconnected for c in fake.calls))


@cases
async def test_total_deadline_bounds_a_slow_stream(case: Case, tmp_path: Path, up: Upstreams) -> None:
    # The total deadline is shorter than two attempts: it cuts the second one short.
    settings = settings_for(tmp_path, up, provider_timeout_s=0.8)
    up[case.fake].push(*[slow(10)] * (ATTEMPTS + 1))
    async with running(settings) as client:
        api = Api(client, KEY_A)
        started = time.monotonic()
        events = events_of(await ask(api, case.model, user("hi"), stream=True))
        elapsed = time.monotonic() - started
    assert names(events) == ["response.created", "response.failed"]
    assert events[-1][1]["error"]["code"] == "PROVIDER_TIMEOUT"
    assert 0.8 <= elapsed < 0.8 + 0.5, elapsed


@cases
async def test_broken_stream_after_a_delta_fails_and_saves_nothing(
    case: Case, api: Api, up: Upstreams
) -> None:
    fake = up[case.fake]
    fake.push(Reply(chunks=("kept",), input_tokens=3, output_tokens=1), Broken(after=1, chunks=("Hel", "lo")))
    thread = uid("thread")
    ok(await ask(api, case.primary, user("first"), thread=thread))
    before = await thread_snapshot(api, thread)

    events = events_of(await ask(api, case.primary, user("second"), thread=thread, stream=True))
    assert names(events) == ["response.created", "response.output_text.delta", "response.failed"]
    assert deltas(events) == ["Hel"]
    assert events[-1][1]["error"]["code"] == "PROVIDER_ERROR"
    assert await thread_snapshot(api, thread) == before
    # Text already reached the client: no retry, no fallback.
    assert len(fake.calls) == 2
    assert up[case.backup].calls == []


@cases
@pytest.mark.parametrize("failure", [Fail(503), Fail(408)], ids=["503", "408"])
async def test_fallback_to_the_next_provider_of_the_config_file(
    case: Case, failure: Behaviour, api: Api, up: Upstreams
) -> None:
    up[case.fake].push(*[failure] * ATTEMPTS)
    up[case.backup].push(Reply(chunks=("from the backup",), input_tokens=8, output_tokens=3))
    thread = uid("thread")
    body = ok(await ask(api, case.primary, user("hi"), thread=thread))
    assert body["output_text"] == "from the backup"
    assert body["model"] == case.primary
    assert body["usage"] == {"input_tokens": 8, "output_tokens": 3, "total_tokens": 11}
    assert len(up[case.fake].calls) == ATTEMPTS
    assert [c.body["model"] for c in up[case.backup].calls] == [case.backup_upstream]
    _, _, messages = await thread_snapshot(api, thread)
    assert messages == [("user", "hi"), ("assistant", "from the backup")]


async def test_fallback_after_attempts_that_time_out(api: Api, up: Upstreams) -> None:
    up["openai"].push(*[slow(10)] * ATTEMPTS)
    up["anthropic"].push(Reply(chunks=("patient backup",)))
    started = time.monotonic()
    assert ok(await ask(api, "openai/gpt-primary", user("hi")))["output_text"] == "patient backup"
    assert time.monotonic() - started < TOTAL_TIMEOUT_S
    assert len(up["openai"].calls) == ATTEMPTS and len(up["anthropic"].calls) == 1


@cases
@pytest.mark.parametrize(
    "failures",
    [[Broken(after=0)] * ATTEMPTS, [Fail(500), Broken(after=0)]],
    ids=["broken-before-first-delta", "500-then-broken"],
)
async def test_stream_falls_back_before_its_first_delta(
    case: Case, failures: list[Behaviour], api: Api, up: Upstreams
) -> None:
    up[case.fake].push(*failures)
    up[case.backup].push(Reply(chunks=("back", "up")))
    thread = uid("thread")
    events = events_of(await ask(api, case.primary, user("hi"), thread=thread, stream=True))
    assert deltas(events) == ["back", "up"]
    assert names(events)[-1] == "response.completed"
    assert len(up[case.fake].calls) == ATTEMPTS
    assert len(up[case.backup].calls) == 1 and up[case.backup].calls[0].stream
    _, _, messages = await thread_snapshot(api, thread)
    assert messages == [("user", "hi"), ("assistant", "backup")]


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


# -- one thread across providers -------------------------------------------------------------------


async def test_a_thread_moves_across_providers_with_its_whole_history(api: Api, up: Upstreams) -> None:
    up["openai"].push(Reply(chunks=("Hello Ann.",)), Reply(chunks=("Fourth.",)))
    up["anthropic"].push(Reply(chunks=("Anthropic here.",)))
    thread = uid("thread")
    ok(await ask(api, "openai/gpt-4.1", system("Be brief."), user("Hi, I am Ann."), thread=thread))
    ok(
        await ask(
            api, "anthropic/claude-gateway-test", user("Second one."), user("And a third."), thread=thread
        )
    )
    echo = ok(await ask(api, "echo", user("Echo turn."), thread=thread))
    ok(await ask(api, "gpt-4.1", user("Last."), thread=thread))

    assert up["anthropic"].calls[0].body == {
        "model": "claude-gateway-test",
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": anthropic_blocks("Hi, I am Ann.")},
            {"role": "assistant", "content": anthropic_blocks("Hello Ann.")},
            # Two consecutive user messages: one Anthropic turn.
            {"role": "user", "content": anthropic_blocks("Second one.", "And a third.")},
        ],
        "max_tokens": ANTHROPIC_MAX_TOKENS,
    }
    assert echo["output_text"] == "Hi, I am Ann.\nSecond one.\nAnd a third.\nEcho turn."
    assert up["openai"].calls[1].body == {
        "model": "gpt-4.1",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi, I am Ann."},
            {"role": "assistant", "content": "Hello Ann."},
            {"role": "user", "content": "Second one."},
            {"role": "user", "content": "And a third."},
            {"role": "assistant", "content": "Anthropic here."},
            {"role": "user", "content": "Echo turn."},
            {"role": "assistant", "content": echo["output_text"]},
            {"role": "user", "content": "Last."},
        ],
    }
    count, _, _ = await thread_snapshot(api, thread)
    assert count == 10


# -- a client that leaves --------------------------------------------------------------------------


@cases
async def test_client_leaving_mid_stream_cancels_upstream_and_saves_nothing(
    case: Case, http: httpx.AsyncClient, api: Api, up: Upstreams
) -> None:
    fake = up[case.fake]
    fake.push(
        Reply(chunks=("kept",)),
        Reply(chunks=("partial", " never sent"), stall_after=1, stall_s=20),
    )
    thread = uid("thread")
    ok(await ask(api, case.model, user("one"), thread=thread))
    before = await thread_snapshot(api, thread)

    # The gateway runs behind uvicorn: closing the half-read response closes a real socket.
    body = {"model": case.model, "inputs": [user("two")], "thread": thread, "stream": True}
    seen: list[str] = []
    async with http.stream("POST", "/v1/model/response", json=body, headers=api.headers) as r:
        assert r.status_code == 200
        async for line in r.aiter_lines():
            seen.append(line)
            if line.startswith("data:") and "response.output_text.delta" in line:
                break
    assert any("partial" in line for line in seen)

    streamed = fake.calls[1]
    assert await eventually(lambda: streamed.disconnected), "the upstream request was not cancelled"
    assert await thread_snapshot(api, thread) == before
    assert before[2] == [("user", "one"), ("assistant", "kept")]


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
