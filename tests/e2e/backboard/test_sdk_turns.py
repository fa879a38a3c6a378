"""backboard-sdk 1.5.19 sends turns to the gateway as its users write them (SPEC §13): the seed flow
of Backboard's documents, new threads under a default or a given assistant, streaming, the legacy
`add_message` (form and multipart) and the memory modes."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from backboard import BackboardClient
from backboard.exceptions import BackboardAPIError, BackboardValidationError

from tests.conftest import KEY_A
from tests.e2e.backboard.helpers import is_uuid, ok, texts


async def test_seed_flow_second_answer_contains_the_first_message(gateway: str) -> None:
    # Backboard's example, verbatim but for `base_url`.
    client = BackboardClient(api_key=KEY_A, base_url=f"{gateway}/api")
    first = await client.send_message("My favorite color is blue.")
    second = await client.send_message("What did I just tell you?", thread_id=first.thread_id)
    await client.aclose()

    assert first.content == "My favorite color is blue."
    # `echo` answers with every user message of the thread: the history came along.
    assert second.content == "My favorite color is blue.\nWhat did I just tell you?"
    assert second.thread_id == first.thread_id and is_uuid(first.thread_id)
    assert second.assistant_id == first.assistant_id and is_uuid(first.assistant_id)
    assert second.status == "COMPLETED"
    assert second.context_usage is not None and second.context_usage.model == "echo"
    assert second.context_usage.context_limit == 32_768
    assert second.context_usage.used_tokens == second.messages[-1]["input_tokens"] > 0


async def test_turns_without_a_thread_make_new_threads_under_one_default_assistant(
    client: BackboardClient,
) -> None:
    one = await client.send_message("first conversation")
    two = await client.send_message("second conversation")
    assert one.thread_id != two.thread_id
    assert one.assistant_id == two.assistant_id
    assistants = await client.list_assistants()
    assert [(str(a.assistant_id), a.name) for a in assistants] == [(one.assistant_id, "Default assistant")]
    threads = await client.list_threads_for_assistant(one.assistant_id)
    assert {str(t.thread_id) for t in threads} == {one.thread_id, two.thread_id}
    # Each thread holds only its own turn.
    assert (await client.send_message("again", thread_id=two.thread_id)).content == (
        "second conversation\nagain"
    )


async def test_a_turn_with_an_assistant_makes_its_thread_under_that_assistant(
    client: BackboardClient,
) -> None:
    assistant = await client.create_assistant(name="Support", system_prompt="Be brief.")
    answer = await client.send_message("hello", assistant_id=assistant.assistant_id)
    assert answer.assistant_id == str(assistant.assistant_id)
    threads = await client.list_threads_for_assistant(assistant.assistant_id)
    assert [str(t.thread_id) for t in threads] == [answer.thread_id]
    # The default assistant was not needed, so it was not made.
    assert [a.name for a in await client.list_assistants()] == ["Support"]


async def test_system_prompt_is_for_the_turn_only(client: BackboardClient, http: httpx.AsyncClient) -> None:
    answer = await client.send_message("hi", system_prompt="Answer in French.")
    thread = await client.get_thread(answer.thread_id)
    assert [(m.role.value, m.content) for m in thread.messages] == [("user", "hi"), ("assistant", "hi")]
    assert await texts(http, answer.thread_id) == ["hi", "hi"]


async def test_streaming_send_message_yields_deltas_then_run_ended_completed(client: BackboardClient) -> None:
    first = await client.send_message("remember me")
    events = [e async for e in await client.send_message("go on", thread_id=first.thread_id, stream=True)]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run_started" and kinds[-2:] == ["message_complete", "run_ended"]
    assert set(kinds[1:-2]) == {"content_streaming"}
    streamed = "".join(e["content"] for e in events if e["type"] == "content_streaming")
    assert streamed == "remember me\ngo on"
    ended = events[-1]
    assert ended["status"] == "completed" and ended["thread_id"] == first.thread_id
    complete = events[-2]
    assert complete["content"] == streamed and complete["status"] == "COMPLETED"
    assert complete["message_id"] == ended["message_id"]
    # Saved before the end was sent: the thread holds both turns.
    thread = await client.get_thread(first.thread_id)
    assert [m.content for m in thread.messages][-1] == streamed
    assert str(thread.messages[-1].message_id) == ended["message_id"]


async def test_a_stream_of_a_new_thread_names_it_in_its_first_event(client: BackboardClient) -> None:
    events = [e async for e in await client.send_message("new one", stream=True)]
    started = events[0]
    assert (
        started["type"] == "run_started"
        and is_uuid(started["thread_id"])
        and is_uuid(started["assistant_id"])
    )
    thread = await client.get_thread(started["thread_id"])
    assert [m.content for m in thread.messages] == ["new one", "new one"]


async def test_legacy_add_message_sends_a_form_and_continues_the_thread(client: BackboardClient) -> None:
    assistant = await client.create_assistant(name="Legacy")
    thread = await client.create_thread(assistant.assistant_id)
    one = await client.add_message(thread.thread_id, content="form one", memory="off")
    two = await client.add_message(
        thread.thread_id, content="form two", llm_provider="echo", model_name="echo"
    )
    assert one.thread_id == two.thread_id == str(thread.thread_id)
    assert two.content == "form one\nform two"
    assert two.messages[-1]["model_provider"] == "echo" and two.messages[-1]["model_name"] == "echo"
    assert two.assistant_id == str(assistant.assistant_id)


async def test_legacy_add_message_streams_from_a_form(client: BackboardClient) -> None:
    assistant = await client.create_assistant(name="Legacy stream")
    thread = await client.create_thread(assistant.assistant_id)
    events = [
        e async for e in await client.add_message(thread.thread_id, content="streamed form", stream=True)
    ]
    assert [e["content"] for e in events if e["type"] == "content_streaming"] == ["streamed form"]
    assert events[-1]["type"] == "run_ended" and events[-1]["status"] == "completed"


async def test_add_message_with_files_is_refused_by_name_and_saves_nothing(
    client: BackboardClient, tmp_path: Path
) -> None:
    assistant = await client.create_assistant(name="Files")
    thread = await client.create_thread(assistant.assistant_id)
    note = tmp_path / "note.txt"
    note.write_text("an attachment")
    # With files the SDK sends multipart/form-data; attachments are not implemented: 400, not ignored.
    with pytest.raises(BackboardValidationError) as caught:
        await client.add_message(thread.thread_id, content="see file", files=[note])
    assert caught.value.status_code == 400 and "`files`" in str(caught.value)
    assert (await client.get_thread(thread.thread_id)).messages == []


async def test_older_path_takes_form_and_multipart_fields(client: BackboardClient, gateway: str) -> None:
    assistant = await client.create_assistant(name="Older SDKs")
    thread = await client.create_thread(assistant.assistant_id)
    path = f"/api/threads/{thread.thread_id}/messages"
    async with httpx.AsyncClient(base_url=gateway, headers={"X-API-Key": KEY_A}) as http:
        form = ok(await http.post(path, data={"content": "as a form", "stream": "false", "memory": "Off"}))
        # Fields without a file name: multipart/form-data, as an SDK with uploads sends them.
        multi = ok(
            await http.post(path, files={"content": (None, "as multipart"), "stream": (None, "false")})
        )
    assert form["content"] == "as a form" and form["thread_id"] == str(thread.thread_id)
    assert multi["content"] == "as a form\nas multipart"
    assert [m.content for m in (await client.get_thread(thread.thread_id)).messages] == [
        "as a form",
        "as a form",
        "as multipart",
        "as a form\nas multipart",
    ]


@pytest.mark.parametrize("mode", ["off", "Off", "OFF"])
async def test_memory_off_is_served_in_any_case(client: BackboardClient, mode: str) -> None:
    answer = await client.send_message("no memory", memory=mode)
    assert answer.content == "no memory"
    assert answer.messages[-1]["memory_operation_id"] is None


@pytest.mark.parametrize(
    ("mode", "writes"), [("Auto", True), ("auto", True), ("Readonly", False), ("READONLY", False)]
)
async def test_memory_auto_writes_and_readonly_does_not_in_any_case(
    client: BackboardClient, mode: str, writes: bool
) -> None:
    answer = await client.send_message("remember this", memory=mode)
    assert answer.content == "remember this"
    assert (answer.messages[-1]["memory_operation_id"] is not None) is writes


async def test_an_unknown_memory_mode_is_a_validation_error(client: BackboardClient) -> None:
    with pytest.raises(BackboardAPIError) as caught:
        await client.send_message("hi", memory="sometimes")
    assert caught.value.status_code == 422 and "memory" in str(caught.value)


async def test_answers_carry_uuid_message_ids_that_the_thread_lists(client: BackboardClient) -> None:
    answer = await client.send_message("ids")
    thread = await client.get_thread(answer.thread_id)
    ids = [str(m.message_id) for m in thread.messages]
    assert ids[-1] == answer.messages[-1]["message_id"]
    assert all(uuid.UUID(i).version == 8 for i in ids) and len(set(ids)) == 2
