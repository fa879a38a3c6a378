"""Concurrent `responses.create` calls on one conversation (SPEC §14, §3): served one after the
other in the order they got the conversation, none lost, none refused (OpenAI answers
`conversation_locked`; the gateway queues), each turn whole; items added meanwhile fall between
turns, never inside one."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from openai import AsyncOpenAI

from tests.e2e.openai.helpers import Client, call, is_async, thread_texts

N = 8


async def _concurrently(client: Client, make: list[Any]) -> list[Any]:
    """Each request of `make` (`lambda: client....`) at once: tasks of the async client, threads
    of the sync one."""
    if is_async(client):
        return list(await asyncio.gather(*(m() for m in make)))
    return list(await asyncio.gather(*(asyncio.to_thread(m) for m in make)))


def _check_whole_and_in_order(messages: list[tuple[str, str]], first: int) -> list[str]:
    """Every answer follows its own input and saw exactly the user inputs before it."""
    users = [text for role, text in messages[:first] if role == "user"]
    for (role_in, text_in), (role_out, text_out) in zip(
        messages[first::2], messages[first + 1 :: 2], strict=True
    ):
        assert (role_in, role_out) == ("user", "assistant"), messages
        users.append(text_in)
        assert text_out == "\n".join(users)
    return users


async def test_concurrent_responses_on_one_conversation_are_all_saved_in_order(
    client: Client, http: httpx.AsyncClient
) -> None:
    conversation = await call(client.conversations.create(items=[{"role": "user", "content": "start"}]))
    answers = await _concurrently(
        client,
        [
            (lambda i=i: client.responses.create(model="echo", input=f"c{i}", conversation=conversation.id))
            for i in range(N)
        ],
    )
    assert all(a.status == "completed" for a in answers)
    messages = await thread_texts(http, conversation.id)
    assert len(messages) == 1 + 2 * N
    users = _check_whole_and_in_order(messages, 1)
    assert sorted(users[1:]) == sorted(f"c{i}" for i in range(N))
    # Each caller got the answer that was saved for its input: the queue lost nobody.
    saved = dict(zip(messages[1::2], messages[2::2], strict=True))
    for i, answer in enumerate(answers):
        assert saved[("user", f"c{i}")] == ("assistant", answer.output_text)


async def test_concurrent_streams_and_item_additions_keep_every_turn_whole(
    client: Client, http: httpx.AsyncClient
) -> None:
    conversation = await call(client.conversations.create())

    def stream(i: int) -> Any:
        """A `responses.stream(...)` to its end, as a coroutine function (async) or a function."""
        fields: dict[str, Any] = {"model": "echo", "input": f"s{i}", "conversation": conversation.id}
        if isinstance(client, AsyncOpenAI):
            aclient = client

            async def run() -> str:
                async with aclient.responses.stream(**fields) as s:
                    return (await s.get_final_response()).output_text

            return run
        sclient = client

        def run_sync() -> str:
            with sclient.responses.stream(**fields) as s:
                return s.get_final_response().output_text

        return run_sync

    add = [
        (
            lambda i=i: client.conversations.items.create(
                conversation.id, items=[{"role": "user", "content": f"n{i}"}]
            )
        )
        for i in range(3)
    ]
    await _concurrently(client, [stream(i) for i in range(4)] + add)
    messages = await thread_texts(http, conversation.id)
    assert len(messages) == 4 * 2 + 3
    # Each streamed answer directly follows its own input and saw every user message before it.
    users: list[str] = []
    at = 0
    while at < len(messages):
        role, text = messages[at]
        assert role == "user"
        users.append(text)
        if text.startswith("s"):
            assert messages[at + 1] == ("assistant", "\n".join(users))
            at += 2
        else:
            at += 1
    assert sorted(users) == sorted([f"s{i}" for i in range(4)] + [f"n{i}" for i in range(3)])
