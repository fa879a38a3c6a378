"""SPEC §3.3: the exact upstream request of each provider (history, system messages, instructions,
sampling fields), the mapping of answers, usage and stream chunks, and one thread whose whole
history moves across providers."""

from __future__ import annotations

import pytest

from tests.conftest import Api, ok, uid, user
from tests.fakes.behaviours import Reply
from tests.integration.providers.helpers import (
    ANTHROPIC_MAX_TOKENS,
    Case,
    Upstreams,
    anthropic_blocks,
    ask,
    cases,
    deltas,
    events_of,
    key_header,
    names,
    system,
    thread_snapshot,
)

pytestmark = pytest.mark.asyncio(loop_scope="package")  # the package's one gateway (conftest.py)


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
