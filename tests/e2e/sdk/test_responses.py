"""`client.responses.create_response` of aitronos-sdk 5.0.0 as its users call it (SPEC §3, §10): the
thread it continues or creates, chaining by `previous_response_id`, visibility, the organization
check, instructions, and inputs as content strings and content blocks."""

from __future__ import annotations

import time

from aitronos import InputMessage

from tests.conftest import ORG_A, uid
from tests.e2e.sdk.helpers import Client, call, raises, say, user


async def test_a_turn_on_a_new_thread_id_creates_it_and_answers_in_both_shapes(sdk: Client) -> None:
    tid = uid("support")
    answer = await call(
        sdk.responses.create_response(
            model="echo", inputs=[InputMessage(role="user", content="Hello there")], thread_id=tid
        )
    )
    assert answer["success"] is True
    assert answer["output_text"] == answer["response"] == "Hello there"
    assert answer["thread_id"] == tid
    assert answer["id"].startswith("resp_") and answer["response_id"] == answer["id"]
    assert isinstance(answer["createdAt"], int) and abs(answer["createdAt"] - time.time()) < 600
    assert isinstance(answer["created_at"], str)
    assert answer["is_summarized"] is False and answer["assistant_id"] is None
    [item] = answer["output"]
    assert (item["type"], item["role"], item["status"]) == ("message", "assistant", "completed")
    assert item["texts"] == [{"text": "Hello there"}]
    assert item["content"] == [{"type": "output_text", "text": "Hello there", "annotations": []}]
    thread = await call(sdk.threads.get_thread(tid))
    assert (thread.id, thread.message_count, thread.last_model_used) == (tid, 2, "echo")


async def test_the_next_turn_on_the_thread_id_sees_the_first(sdk: Client) -> None:
    tid = uid("chat")
    await say(sdk, "My favorite color is blue.", thread_id=tid)
    second = await say(sdk, "What did I just tell you?", thread_id=tid)
    assert second["output_text"].splitlines() == ["My favorite color is blue.", "What did I just tell you?"]
    page = await call(sdk.messages.get_thread_messages(tid))
    assert [(m.role, m.content) for m in page.data] == [
        ("user", "My favorite color is blue."),
        ("assistant", "My favorite color is blue."),
        ("user", "What did I just tell you?"),
        ("assistant", "My favorite color is blue.\nWhat did I just tell you?"),
    ]


async def test_a_thread_object_with_metadata_creates_the_thread_with_it(sdk: Client) -> None:
    tid = uid("obj")
    thread = {"id": tid, "metadata": {"userId": "user_123"}}
    answer = await call(
        sdk.responses.create_response(
            model="echo",
            inputs=[user("Hi")],
            request_options={"additional_body_parameters": {"thread": thread}},
        )
    )
    assert (answer["thread_id"], answer["output_text"]) == (tid, "Hi")
    saved = await call(sdk.threads.get_thread(tid))
    assert saved.metadata == {"userId": "user_123"} and saved.message_count == 2


async def test_a_turn_without_a_thread_creates_a_listed_thread_with_a_generated_id(sdk: Client) -> None:
    answer = await say(sdk, "Fresh start")
    tid = answer["thread_id"]
    assert tid.startswith("thread_")
    listed = await call(sdk.threads.list_threads())
    assert [t.id for t in listed.data] == [tid]
    assert listed.data[0].message_count == 2 and listed.data[0].visible_in_ui is True


async def test_previous_response_id_continues_from_that_response_outside_any_thread(sdk: Client) -> None:
    tid = uid("chain")
    first = await say(sdk, "Remember 42.", thread_id=tid)
    second = await say(sdk, "What number?", previous_response_id=first["id"])
    assert second["output_text"].splitlines() == ["Remember 42.", "What number?"]
    assert second["thread_id"] is None and second["previous_response_id"] == first["id"]
    third = await say(sdk, "And now?", previous_response_id=second["id"])
    assert third["output_text"].splitlines() == ["Remember 42.", "What number?", "And now?"]
    # The chained turns belong to no thread: the thread still holds its first turn only.
    assert (await call(sdk.threads.get_thread(tid))).message_count == 2


async def test_previous_response_id_with_a_thread_id_is_a_conflict(sdk: Client) -> None:
    tid = uid("both")
    first = await say(sdk, "One", thread_id=tid)
    await raises(
        lambda: sdk.responses.create_response(
            model="echo", inputs=[user("Two")], thread_id=tid, previous_response_id=first["id"]
        ),
        400,
        "CONFLICTING_PARAMETERS",
    )
    assert (await call(sdk.threads.get_thread(tid))).message_count == 2


async def test_an_unknown_previous_response_id_is_not_found(sdk: Client) -> None:
    await raises(
        lambda: sdk.responses.create_response(
            model="echo", inputs=[user("Two")], previous_response_id="resp_never_made"
        ),
        404,
        "RESPONSE_NOT_FOUND",
    )


async def test_store_false_makes_the_new_thread_hidden_but_usable_by_id(sdk: Client) -> None:
    hidden = uid("hidden")
    await say(sdk, "secret", thread_id=hidden, store=False)
    visible = (await say(sdk, "public"))["thread_id"]
    assert [t.id for t in (await call(sdk.threads.list_threads())).data] == [visible]
    assert [t.id for t in (await call(sdk.threads.list_threads(visible_in_ui=False))).data] == [hidden]
    assert (await call(sdk.threads.get_thread(hidden))).visible_in_ui is False
    again = await say(sdk, "still here", thread_id=hidden)
    assert again["output_text"].splitlines() == ["secret", "still here"]
    # `store` acts on the request that creates a thread only.
    await say(sdk, "stored now?", thread_id=hidden, store=True)
    assert (await call(sdk.threads.get_thread(hidden))).visible_in_ui is False


async def test_organization_id_of_the_key_is_accepted_and_another_one_refused(sdk: Client) -> None:
    mine = await say(sdk, "mine", organization_id=ORG_A)
    assert mine["output_text"] == "mine"
    await raises(
        lambda: sdk.responses.create_response(
            model="echo", inputs=[user("theirs")], organization_id="org_someone_else"
        ),
        403,
        "ORGANIZATION_ACCESS_DENIED",
    )


async def test_instructions_shape_one_request_and_are_not_saved(sdk: Client) -> None:
    tid = uid("instr")
    answer = await say(sdk, "Hi", thread_id=tid, instructions="Answer in French.", temperature=0.3)
    # echo repeats user messages only: the system instructions are not among them.
    assert answer["output_text"] == "Hi"
    page = await call(sdk.messages.get_thread_messages(tid))
    assert [(m.role, m.content) for m in page.data] == [("user", "Hi"), ("assistant", "Hi")]


async def test_inputs_as_content_strings_and_content_blocks_are_read_as_text(sdk: Client) -> None:
    tid = uid("blocks")
    answer = await call(
        sdk.responses.create_response(
            model="echo",
            thread_id=tid,
            inputs=[
                InputMessage(role="user", content="as a string"),
                InputMessage(role="user", content=[{"type": "input_text", "text": "as an input_text block"}]),
                InputMessage(role="user", content=[{"type": "text", "text": "as a text block"}]),
            ],
        )
    )
    lines = ["as a string", "as an input_text block", "as a text block"]
    assert answer["output_text"].splitlines() == lines
    page = await call(sdk.messages.get_thread_messages(tid))
    assert [m.content for m in page.data] == [*lines, "\n".join(lines)]
    assert [m.role for m in page.data] == ["user", "user", "user", "assistant"]


async def test_an_assistant_input_with_an_output_text_block_joins_the_history(sdk: Client) -> None:
    tid = uid("prior")
    answer = await call(
        sdk.responses.create_response(
            model="echo",
            thread_id=tid,
            inputs=[
                InputMessage(role="assistant", content=[{"type": "output_text", "text": "Earlier answer"}]),
                InputMessage(role="user", content=[{"type": "input_text", "text": "Next question"}]),
            ],
        )
    )
    assert answer["output_text"] == "Next question"
    page = await call(sdk.messages.get_thread_messages(tid))
    assert [(m.role, m.content) for m in page.data] == [
        ("assistant", "Earlier answer"),
        ("user", "Next question"),
        ("assistant", "Next question"),
    ]


async def test_an_output_item_of_an_answer_can_be_sent_back_as_an_input(sdk: Client) -> None:
    first = await say(sdk, "one")
    tid = uid("resend")
    second = await call(
        sdk.responses.create_response(
            model="echo", thread_id=tid, inputs=[*first["output"], InputMessage(role="user", content="two")]
        )
    )
    assert second["output_text"] == "two"
    page = await call(sdk.messages.get_thread_messages(tid))
    assert [(m.role, m.content) for m in page.data] == [
        ("assistant", "one"),
        ("user", "two"),
        ("assistant", "two"),
    ]
