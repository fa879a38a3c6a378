"""SPEC §6 on the OpenAI door: a conversation's message limit holds for responses and for items
added without a model (409, nothing saved), and a turn that waits too long for its conversation is
409 `thread_busy` with `Retry-After`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import KEY_A
from tests.e2e.openai.conftest import serve_gateway
from tests.e2e.openai.helpers import Client, call, connect, raises, thread_texts
from tests.fakes.behaviours import slow
from tests.fakes.server import serve
from tests.fakes.upstream import FakeUpstream


@pytest.fixture
def small(tmp_path: Path) -> Iterator[str]:
    with serve_gateway(tmp_path / "data", max_messages_per_thread=4) as url:
        yield url


@pytest.fixture(params=["sync", "async"])
async def sdk(request: pytest.FixtureRequest, small: str) -> AsyncIterator[Client]:
    async with connect(request.param, small, KEY_A) as c:
        yield c


async def test_the_message_limit_holds_for_responses_and_items(sdk: Client, small: str) -> None:
    conversation = await call(sdk.conversations.create(items=[{"role": "user", "content": "one"}]))
    await call(sdk.responses.create(model="echo", input="two", conversation=conversation.id))  # 3 messages
    exc = await raises(
        lambda: sdk.responses.create(model="echo", input="three", conversation=conversation.id),
        openai.ConflictError,
        409,
    )
    assert exc.body["code"] == "thread_message_limit"  # type: ignore[index]
    await raises(
        lambda: sdk.conversations.items.create(
            conversation.id, items=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
        ),
        openai.ConflictError,
        409,
    )
    await raises(
        lambda: sdk.conversations.create(items=[{"role": "user", "content": str(i)} for i in range(5)]),
        openai.ConflictError,
        409,
    )
    # One more item still fits: the limit is reached, not passed.
    await call(sdk.conversations.items.create(conversation.id, items=[{"role": "user", "content": "last"}]))
    async with httpx.AsyncClient(base_url=small, headers={"Authorization": f"Bearer {KEY_A}"}) as http:
        assert [t for _, t in await thread_texts(http, conversation.id)] == ["one", "two", "one\ntwo", "last"]


async def test_a_turn_that_waits_too_long_for_its_conversation_is_409_busy(tmp_path: Path) -> None:
    fake = FakeUpstream()
    with (
        serve(fake) as up,
        serve_gateway(
            tmp_path / "data", openai_api_key="sk", openai_base_url=f"{up}/v1", turn_wait_s=0.2
        ) as gw,
    ):
        fake.push(slow(1.5))
        async with connect("async", gw, KEY_A) as client:
            conversation = await call(client.conversations.create())
            first = asyncio.create_task(
                call(
                    client.responses.create(
                        model="openai/gpt-4.1", input="slow", conversation=conversation.id
                    )
                )
            )
            await asyncio.sleep(0.4)
            exc = await raises(
                lambda: client.responses.create(model="echo", input="hurry", conversation=conversation.id),
                openai.ConflictError,
                409,
            )
            assert exc.body["code"] == "thread_busy"  # type: ignore[index]
            assert exc.response.headers["retry-after"]
            assert (await first).output_text == "Hello from the fake"
