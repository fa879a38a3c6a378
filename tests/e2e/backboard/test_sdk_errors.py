"""backboard-sdk 1.5.19 raises its own exception classes for the gateway's errors (SPEC §13): the
status codes of SPEC §8 with a `detail`, so `BackboardNotFoundError` for 404, `BackboardAPIError`
with `status_code` 409 for a locked or archived thread or a full one, 401 for a bad key,
`BackboardServerError` for 5xx."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from backboard import BackboardClient
from backboard.exceptions import (
    BackboardAPIError,
    BackboardNotFoundError,
    BackboardServerError,
    BackboardValidationError,
)

from tests.conftest import KEY_A
from tests.e2e.backboard.conftest import serve_gateway
from tests.e2e.backboard.helpers import lock, new_id, texts


async def test_unknown_ids_raise_not_found(client: BackboardClient) -> None:
    for call in (
        client.get_thread(new_id()),
        client.delete_thread(new_id()),
        client.get_assistant(new_id()),
        client.update_assistant(new_id(), name="x"),
        client.delete_assistant(new_id()),
        client.send_message("hi", thread_id=new_id()),
        client.send_message("hi", assistant_id=new_id()),
        client.add_message(new_id(), content="hi"),
    ):
        with pytest.raises(BackboardNotFoundError) as caught:
            await call
        assert caught.value.status_code == 404 and "was not found" in str(caught.value)
    # None of those made anything.
    assert await client.list_threads() == [] and await client.list_assistants() == []


@pytest.mark.parametrize("state", ["locked", "archived"])
async def test_a_locked_or_archived_thread_refuses_a_turn_with_409(
    client: BackboardClient, http: httpx.AsyncClient, state: str
) -> None:
    first = await client.send_message("before")
    await lock(http, first.thread_id, state)
    for stream in (False, True):
        with pytest.raises(BackboardAPIError) as caught:
            result = await client.send_message("after", thread_id=first.thread_id, stream=stream)
            if stream:
                [e async for e in result]  # type: ignore[union-attr]
        assert caught.value.status_code == 409
        # The SDK reads no body of a streamed request's error; a plain one names the state.
        assert stream or state in str(caught.value)
    with pytest.raises(BackboardAPIError) as legacy:
        await client.add_message(first.thread_id, content="after")
    assert legacy.value.status_code == 409
    # Nothing was saved, and the thread is still readable here.
    assert await texts(http, first.thread_id) == ["before", "before"]
    assert len((await client.get_thread(first.thread_id)).messages) == 2


async def test_a_bad_key_raises_401_on_every_kind_of_call(gateway: str) -> None:
    async with BackboardClient(api_key="not-a-key", base_url=f"{gateway}/api") as bad:
        for call in (bad.list_threads(), bad.send_message("hi"), bad.create_assistant(name="x")):
            with pytest.raises(BackboardAPIError) as caught:
                await call
            assert caught.value.status_code == 401 and "API key" in str(caught.value)


async def test_a_provider_without_a_key_raises_a_server_error_and_saves_nothing(
    client: BackboardClient,
) -> None:
    first = await client.send_message("hello")
    with pytest.raises(BackboardServerError) as caught:
        await client.send_message(
            "hi", thread_id=first.thread_id, llm_provider="anthropic", model_name="claude-x"
        )
    assert caught.value.status_code == 503
    assert len((await client.get_thread(first.thread_id)).messages) == 2


async def test_an_unknown_model_raises_not_found(client: BackboardClient) -> None:
    with pytest.raises(BackboardNotFoundError):
        await client.send_message("hi", llm_provider="nobody", model_name="nothing")
    with pytest.raises(BackboardNotFoundError):
        await client.send_message("hi", model_name="no-such-family")


@pytest.fixture
async def small(tmp_path: Path) -> AsyncIterator[BackboardClient]:
    """A gateway whose threads hold at most 4 messages (two turns)."""
    with serve_gateway(tmp_path / "small", max_messages_per_thread=4) as url:
        async with BackboardClient(api_key=KEY_A, base_url=f"{url}/api") as c:
            yield c


async def test_a_full_thread_refuses_the_next_turn_with_409(small: BackboardClient) -> None:
    first = await small.send_message("one")
    await small.send_message("two", thread_id=first.thread_id)
    with pytest.raises(BackboardAPIError) as caught:
        await small.send_message("three", thread_id=first.thread_id)
    assert caught.value.status_code == 409 and "limit" in str(caught.value).lower()
    assert len((await small.get_thread(first.thread_id)).messages) == 4


async def test_a_turn_naming_another_assistant_than_its_threads_raises_a_validation_error(
    client: BackboardClient,
) -> None:
    one = await client.create_assistant(name="One")
    two = await client.create_assistant(name="Two")
    thread = await client.create_thread(one.assistant_id)
    with pytest.raises(BackboardValidationError) as caught:
        await client.send_message("x", thread_id=str(thread.thread_id), assistant_id=two.assistant_id)
    assert caught.value.status_code == 400
    # Its own assistant is no contradiction.
    answer = await client.send_message("y", thread_id=str(thread.thread_id), assistant_id=one.assistant_id)
    assert [m.content for m in (await client.get_thread(thread.thread_id)).messages] == ["y", answer.content]
