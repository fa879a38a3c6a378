"""Summaries of long threads (SPEC §12) through the whole gateway on a real port: turns go to the
fake upstream as an OpenAI-compatible endpoint with a small window (400 tokens), the summary job
to the same endpoint (`GATEWAY_SUMMARY_MODEL`), told apart by its prompt. What the model was given
is read from what the fake received."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import KEY_A
from tests.e2e.backboard.conftest import serve_gateway
from tests.fakes.behaviours import Behaviour, Fail, Reply
from tests.fakes.server import serve
from tests.fakes.upstream import Call, FakeUpstream

FACT = "Please remember this: my locker code is 4471."
FILLER = "Tell me one more thing about the history of the northern lighthouse keepers, briefly."
HEADER = "Summary of the earlier part of this conversation"


def is_summary_call(call: Call) -> bool:
    messages = call.body.get("messages") or [{}]
    return "running summary" in str(messages[0].get("content", ""))


def summarizer(hold: threading.Event | None = None) -> Any:
    """The fake's summary model: keeps the locker code if the prompt (new messages or the summary
    so far) holds it."""

    def answer(call: Call) -> Behaviour:
        prompt = call.body["messages"][-1]["content"]
        found = re.search(r"locker code is (\d+)", prompt)
        text = f"The user's locker code is {found.group(1)}." if found else "Small talk only."
        return Reply(chunks=(text,), hold=hold)

    return answer


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    upstream = FakeUpstream(Reply(chunks=("Noted, here is a short answer.",)))
    with serve(upstream) as url:
        upstream.url = url  # type: ignore[attr-defined]
        yield upstream


@pytest.fixture
def gateway(tmp_path: Path, fake: FakeUpstream) -> Iterator[str]:
    config = tmp_path / "providers.toml"
    config.write_text(
        f'[endpoints.small]\nbase_url = "{fake.url}/v1"\ncontext_tokens = 400\n'  # type: ignore[attr-defined]
    )
    settings = {
        "config_file": str(config),
        "summary_model": "small/summarizer",
        "summary_after_tokens": 100,
        "summary_max_tokens": 100,
    }
    with serve_gateway(tmp_path / "data", **settings) as gw:
        yield gw


@pytest.fixture
async def http(gateway: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway, headers={"X-API-Key": KEY_A}, timeout=30) as c:
        yield c


async def say(http: httpx.AsyncClient, thread: str, text: str) -> dict[str, Any]:
    body = {"model": "small/chat", "thread": thread, "inputs": [{"role": "user", "content": text}]}
    r = await http.post("/v1/model/response", json=body)
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def turn_calls(fake: FakeUpstream) -> list[Call]:
    return [c for c in fake.calls if not is_summary_call(c)]


def given(call: Call) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in call.body["messages"]]


async def until_summarized(http: httpx.AsyncClient, thread: str, turns: int = 40) -> dict[str, Any]:
    for _ in range(turns):
        answer = await say(http, thread, FILLER)
        if answer["is_summarized"]:
            return answer
        await asyncio.sleep(0.05)
    raise AssertionError("no turn was given a summary")


async def test_a_thread_past_its_window_gives_the_model_a_summary_of_its_first_turns(
    http: httpx.AsyncClient, fake: FakeUpstream
) -> None:
    hold = threading.Event()
    fake.answer_when(is_summary_call, summarizer(hold))
    thread = "thread_summarized"
    first = await say(http, thread, FACT)
    assert first["is_summarized"] is False and first["context_usage"]["summary_tokens"] == 0
    sent = 1
    # Fill the window until the first turn falls out of what the model is given.
    while any(FACT in text for _, text in given(turn_calls(fake)[-1])):
        await say(http, thread, FILLER)
        sent += 1
        assert sent < 40
    # The summary's model call is held: turns go on without waiting for it.
    for _ in range(20):
        if any(is_summary_call(c) for c in fake.calls):
            break
        await say(http, thread, FILLER)
        sent += 1
    summary_calls = [c for c in fake.calls if is_summary_call(c)]
    assert summary_calls and not summary_calls[0].finished
    answer = await say(http, thread, FILLER)
    sent += 1
    assert answer["is_summarized"] is False and not summary_calls[0].finished
    # The summarizer was given the thread's start, with the fact, and the small window's bound.
    assert FACT in summary_calls[0].body["messages"][-1]["content"]
    assert summary_calls[0].body["model"] == "summarizer"
    hold.set()

    answer = await until_summarized(http, thread)
    usage = answer["context_usage"]
    assert usage["summary_tokens"] > 0 and usage["context_limit"] == 400 and usage["model"] == "small/chat"
    seen = given(turn_calls(fake)[-1])
    summaries = [text for role, text in seen if role == "system" and text.startswith(HEADER)]
    assert summaries == [f"{HEADER} (its messages are no longer shown):\nThe user's locker code is 4471."]
    assert seen[0][0] == "system" and seen[-1] == ("user", FILLER)  # before the history, once
    assert not any(FACT in text for role, text in seen if role == "user")
    # Summarization never changes the thread: every message is still there, in order.
    listed = (await http.get(f"/v1/threads/{thread}/messages", params={"limit": 100, "order": "asc"})).json()
    texts = [m["content"] for m in listed["data"]]
    assert texts[0] == FACT and len(texts) == 2 * len(turn_calls(fake))
    thread_obj = (await http.get(f"/v1/threads/{thread}")).json()
    assert thread_obj["message_count"] == len(texts)


async def test_a_summary_that_cannot_be_made_leaves_plain_truncation(
    http: httpx.AsyncClient, fake: FakeUpstream
) -> None:
    fake.answer_when(is_summary_call, lambda call: Fail(500, "the summarizer is down"))
    thread = "thread_unsummarized"
    await say(http, thread, FACT)
    for _ in range(30):
        answer = await say(http, thread, FILLER)
        assert answer["is_summarized"] is False
    assert any(is_summary_call(c) for c in fake.calls)  # it was tried
    seen = given(turn_calls(fake)[-1])
    assert not any(text.startswith(HEADER) for _, text in seen)
    assert seen[-1] == ("user", FILLER) and len(seen) > 2  # the newest history that fits


async def test_a_summarized_turn_continues_with_its_summary_on_every_door(
    http: httpx.AsyncClient, fake: FakeUpstream
) -> None:
    fake.answer_when(is_summary_call, summarizer())
    thread = "thread_doors"
    await say(http, thread, FACT)
    answer = await until_summarized(http, thread)

    def summary_given() -> bool:
        return any(role == "system" and "4471" in text for role, text in given(turn_calls(fake)[-1]))

    # A chain from the summarized response: the summary comes with the context it continues.
    body = {
        "model": "small/chat",
        "previousResponseId": answer["id"],
        "inputs": [{"role": "user", "content": "And?"}],
    }
    chained = await http.post("/v1/model/response", json=body)
    assert chained.status_code == 200, chained.text
    assert chained.json()["is_summarized"] is True and summary_given()
    assert chained.json()["context_usage"]["summary_tokens"] == answer["context_usage"]["summary_tokens"]
    # The OpenAI door's turn on the same conversation gives its model the summary too.
    r = await http.post(
        "/v1/responses", json={"model": "small/chat", "conversation": thread, "input": "Go on."}
    )
    assert r.status_code == 200, r.text
    assert summary_given()


async def test_a_backboard_turn_on_a_long_thread_counts_its_summary(
    http: httpx.AsyncClient, fake: FakeUpstream
) -> None:
    fake.answer_when(is_summary_call, summarizer())
    first = await http.post(
        "/api/threads/messages", json={"content": FACT, "llm_provider": "small", "model_name": "chat"}
    )
    assert first.status_code == 200, first.text
    thread = first.json()["thread_id"]
    for _ in range(40):
        r = await http.post(
            f"/api/threads/{thread}/messages",
            json={"content": FILLER, "llm_provider": "small", "model_name": "chat"},
        )
        assert r.status_code == 200, r.text
        usage = r.json()["context_usage"]
        if usage["summary_tokens"] > 0:
            break
        await asyncio.sleep(0.05)
    assert usage["summary_tokens"] > 0 and usage["context_limit"] == 400
    assert any(role == "system" and "4471" in text for role, text in given(turn_calls(fake)[-1]))
