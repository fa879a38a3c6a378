"""backboard-sdk 1.5.19's assistant and thread calls against the gateway (SPEC §13, §11): create,
list, get, update and delete assistants; threads under an assistant, listed all and per assistant,
read with their messages, deleted."""

from __future__ import annotations

import httpx
import pytest
from backboard import BackboardClient
from backboard.exceptions import BackboardNotFoundError

from tests.e2e.backboard.helpers import is_uuid, new_id


async def test_assistant_create_get_list_update_delete(client: BackboardClient) -> None:
    made = await client.create_assistant(name="Helper", description="Helps.", system_prompt="Be kind.")
    assert is_uuid(str(made.assistant_id))
    assert (made.name, made.description, made.system_prompt) == ("Helper", "Helps.", "Be kind.")

    got = await client.get_assistant(made.assistant_id)
    assert got == made

    changed = await client.update_assistant(made.assistant_id, name="Helper 2", system_prompt="Be brief.")
    assert (changed.name, changed.system_prompt, changed.description) == ("Helper 2", "Be brief.", "Helps.")
    assert (await client.get_assistant(made.assistant_id)).system_prompt == "Be brief."
    assert [a.assistant_id for a in await client.list_assistants()] == [made.assistant_id]

    gone = await client.delete_assistant(made.assistant_id)
    assert gone["assistant_id"] == str(made.assistant_id) and gone["message"]
    with pytest.raises(BackboardNotFoundError):
        await client.get_assistant(made.assistant_id)
    assert await client.list_assistants() == []


async def test_assistant_list_pages_with_skip_and_limit_and_filters_by_exact_name(
    client: BackboardClient,
) -> None:
    made = [await client.create_assistant(name=f"bot {i}") for i in range(5)]
    await client.create_assistant(name="bot 1 extra")
    newest_first = [a.assistant_id for a in reversed(made)]
    listed = [a.assistant_id for a in await client.list_assistants()]
    assert listed[1:] == newest_first  # the extra one is the newest
    assert [a.assistant_id for a in await client.list_assistants(skip=2, limit=2)] == newest_first[1:3]
    # Exact, case-sensitive: "bot 1" is not "bot 1 extra", nor "BOT 1".
    assert [a.assistant_id for a in await client.list_assistants(name="bot 1")] == [made[1].assistant_id]
    assert await client.list_assistants(name="BOT 1") == []


async def test_assistant_model_is_llm_provider_and_model_name(
    client: BackboardClient, http: httpx.AsyncClient
) -> None:
    # The SDK's `create_assistant` has no model; Backboard's API takes `llm_provider` + `model_name`.
    r = await http.post(
        "/api/assistants", json={"name": "Echoer", "llm_provider": "echo", "model_name": "echo"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["llm_provider"], body["model_name"]) == ("echo", "echo")
    answer = await client.send_message("routed", assistant_id=body["assistant_id"])
    assert (answer.messages[-1]["model_provider"], answer.messages[-1]["model_name"]) == ("echo", "echo")
    # The same assistant in the Freddy door: its model is `echo/echo`.
    freddy = await http.get(f"/v1/assistants/{body['assistant_id']}")
    assert freddy.status_code == 200 and freddy.json()["model"] == "echo/echo"


async def test_threads_under_an_assistant_are_listed_all_and_per_assistant(client: BackboardClient) -> None:
    one = await client.create_assistant(name="One")
    two = await client.create_assistant(name="Two")
    t1 = await client.create_thread(one.assistant_id)
    t2 = await client.create_thread(one.assistant_id)
    t3 = await client.create_thread(two.assistant_id)
    assert all(is_uuid(str(t.thread_id)) for t in (t1, t2, t3)) and t1.messages == []
    # Newest activity first: a turn on t1 moves it to the front.
    await client.add_message(t1.thread_id, content="activity")
    assert [t.thread_id for t in await client.list_threads()] == [t1.thread_id, t3.thread_id, t2.thread_id]
    assert [t.thread_id for t in await client.list_threads_for_assistant(one.assistant_id)] == [
        t1.thread_id,
        t2.thread_id,
    ]
    assert [t.thread_id for t in await client.list_threads_for_assistant(two.assistant_id)] == [t3.thread_id]
    assert [t.thread_id for t in await client.list_threads(skip=1, limit=1)] == [t3.thread_id]
    assert [t.thread_id for t in await client.list_threads_for_assistant(one.assistant_id, skip=1)] == [
        t2.thread_id
    ]


async def test_get_thread_has_its_messages_in_order(client: BackboardClient) -> None:
    first = await client.send_message("one")
    await client.send_message("two", thread_id=first.thread_id)
    thread = await client.get_thread(first.thread_id)
    assert str(thread.thread_id) == first.thread_id
    assert [(m.role.value, m.content) for m in thread.messages] == [
        ("user", "one"),
        ("assistant", "one"),
        ("user", "two"),
        ("assistant", "one\ntwo"),
    ]
    assert len({m.message_id for m in thread.messages}) == 4
    assert [m.created_at for m in thread.messages] == sorted(m.created_at for m in thread.messages)


async def test_a_long_thread_is_read_whole(client: BackboardClient) -> None:
    first = await client.send_message("m0")
    for i in range(1, 60):
        await client.send_message(f"m{i}", thread_id=first.thread_id)
    thread = await client.get_thread(first.thread_id)
    assert len(thread.messages) == 120  # more than one page of the core's history reads
    assert [m.content for m in thread.messages[::2]] == [f"m{i}" for i in range(60)]


async def test_delete_thread_answers_200_and_the_thread_is_gone(client: BackboardClient) -> None:
    answer = await client.send_message("to be deleted")
    gone = await client.delete_thread(answer.thread_id)
    assert gone["thread_id"] == answer.thread_id and gone["message"] and gone["deleted_at"]
    with pytest.raises(BackboardNotFoundError):
        await client.get_thread(answer.thread_id)
    with pytest.raises(BackboardNotFoundError):
        await client.send_message("again", thread_id=answer.thread_id)
    with pytest.raises(BackboardNotFoundError):
        await client.delete_thread(answer.thread_id)
    assert answer.thread_id not in {str(t.thread_id) for t in await client.list_threads()}


async def test_deleting_an_assistant_keeps_its_threads_detached(client: BackboardClient) -> None:
    assistant = await client.create_assistant(name="Short-lived")
    thread = await client.create_thread(assistant.assistant_id)
    await client.add_message(thread.thread_id, content="kept")
    gone = await client.delete_assistant(assistant.assistant_id)
    assert gone["threads_detached"] == 1
    kept = await client.get_thread(thread.thread_id)
    assert [m.content for m in kept.messages] == ["kept", "kept"]
    with pytest.raises(BackboardNotFoundError):
        await client.list_threads_for_assistant(assistant.assistant_id)
    # The detached thread goes on, without an assistant.
    answer = await client.add_message(thread.thread_id, content="still here")
    assert answer.content == "kept\nstill here" and answer.assistant_id is None


async def test_threads_of_an_unknown_assistant_are_404(client: BackboardClient) -> None:
    with pytest.raises(BackboardNotFoundError):
        await client.create_thread(new_id())
    with pytest.raises(BackboardNotFoundError):
        await client.list_threads_for_assistant(new_id())
