"""`client.responses.create` of aitronos-freddy 0.1.2 as its users call it (SPEC §3, §10): what
`ModelResponse` parses, `thread_id` (sent as `threadId`), the thread string and object, chaining by
`previousResponseId`, `store: false`, `organization_id` (sent as `organizationId`), instructions and
the input item forms. The SDK has no threads API: what a turn saved is read over plain HTTP."""

from __future__ import annotations

import time

from freddy.models import ModelResponse
from gateway_process import ORG, Gateway
from helpers import Client, call, say, text_of, texts, uid


async def test_an_answer_parses_as_the_sdks_model_response(freddy: Client) -> None:
    answer = await call(
        freddy.responses.create(model="echo", inputs=[{"role": "user", "texts": [{"text": "Hello!"}]}])
    )
    assert isinstance(answer, ModelResponse)
    assert text_of(answer) == "Hello!"
    assert (answer.object, answer.status, answer.model) == ("response", "completed", "echo")
    assert answer.id.startswith("resp_") and abs(answer.created_at - time.time()) < 600
    [item] = answer.output
    assert (item.type, item.role, item.status) == ("message", "assistant", "completed")
    assert [(c.type, c.text, c.annotations) for c in item.content] == [("output_text", "Hello!", [])]
    assert answer.previous_response_id is None and answer.error is None


async def test_thread_id_continues_the_thread(freddy: Client, gateway: Gateway) -> None:
    tid = uid("support")
    await say(freddy, "My favorite color is blue.", thread_id=tid)
    second = await say(freddy, "What did I just tell you?", thread_id=tid)
    assert text_of(second).splitlines() == ["My favorite color is blue.", "What did I just tell you?"]
    thread = gateway.json("GET", f"/v1/threads/{tid}")
    assert (thread["id"], thread["message_count"], thread["organization_id"]) == (tid, 4, ORG)


async def test_a_thread_string_and_a_thread_object_with_metadata(freddy: Client, gateway: Gateway) -> None:
    plain, rich = uid("plain"), uid("rich")
    assert text_of(await say(freddy, "by string", thread=plain)) == "by string"
    await say(freddy, "by object", thread={"id": rich, "metadata": {"userId": "user_123"}})
    assert gateway.json("GET", f"/v1/threads/{plain}")["message_count"] == 2
    saved = gateway.json("GET", f"/v1/threads/{rich}")
    assert saved["metadata"] == {"userId": "user_123"} and saved["message_count"] == 2


async def test_previous_response_id_chains_outside_any_thread(freddy: Client, gateway: Gateway) -> None:
    tid = uid("chain")
    first = await say(freddy, "Remember 42.", thread_id=tid)
    second = await say(freddy, "What number?", previousResponseId=first.id)
    assert text_of(second).splitlines() == ["Remember 42.", "What number?"]
    assert second.previous_response_id == first.id
    # The snake_case spelling means the same.
    third = await say(freddy, "And now?", previous_response_id=second.id)
    assert text_of(third).splitlines() == ["Remember 42.", "What number?", "And now?"]
    assert gateway.json("GET", f"/v1/threads/{tid}")["message_count"] == 2


async def test_store_false_hides_the_new_thread_but_keeps_it_usable(freddy: Client, gateway: Gateway) -> None:
    tid = uid("hidden")
    await say(freddy, "secret", thread_id=tid, store=False)
    shown = gateway.json("GET", "/v1/threads", params={"limit": 100})
    hidden = gateway.json("GET", "/v1/threads", params={"limit": 100, "visible_in_ui": "false"})
    assert tid not in [t["id"] for t in shown["data"]]
    assert tid in [t["id"] for t in hidden["data"]]
    assert text_of(await say(freddy, "still here", thread_id=tid)).splitlines() == ["secret", "still here"]


async def test_organization_id_of_the_key_is_accepted(freddy: Client) -> None:
    answer = await say(freddy, "mine", organization_id=ORG)
    assert text_of(answer) == "mine"


async def test_instructions_shape_one_request_and_are_not_saved(freddy: Client, gateway: Gateway) -> None:
    tid = uid("instr")
    answer = await say(freddy, "Hi", thread_id=tid, instructions="Answer in French.", temperature=0.3)
    assert text_of(answer) == "Hi"
    page = gateway.json("GET", f"/v1/threads/{tid}/messages")
    assert [(m["role"], m["content"]) for m in page["data"]] == [("user", "Hi"), ("assistant", "Hi")]


async def test_inputs_as_texts_content_strings_and_content_blocks(freddy: Client, gateway: Gateway) -> None:
    tid = uid("forms")
    answer = await call(
        freddy.responses.create(
            model="echo",
            thread_id=tid,
            inputs=[
                {"role": "assistant", "content": [{"type": "output_text", "text": "Earlier answer"}]},
                texts("as texts"),
                {"role": "user", "content": "as a content string"},
                {"role": "user", "content": [{"type": "input_text", "text": "as an input_text block"}]},
                {"role": "user", "content": [{"type": "text", "text": "as a text block"}]},
            ],
        )
    )
    lines = ["as texts", "as a content string", "as an input_text block", "as a text block"]
    assert text_of(answer).splitlines() == lines
    page = gateway.json("GET", f"/v1/threads/{tid}/messages")
    assert [m["content"] for m in page["data"]] == ["Earlier answer", *lines, "\n".join(lines)]
    assert [m["role"] for m in page["data"]] == ["assistant", "user", "user", "user", "user", "assistant"]


async def test_an_output_item_of_an_answer_can_be_sent_back(freddy: Client, gateway: Gateway) -> None:
    first = await say(freddy, "one")
    tid = uid("resend")
    item = first.output[0].model_dump()
    second = await call(freddy.responses.create(model="echo", thread_id=tid, inputs=[item, texts("two")]))
    assert text_of(second) == "two"
    page = gateway.json("GET", f"/v1/threads/{tid}/messages")
    assert [(m["role"], m["content"]) for m in page["data"]] == [
        ("assistant", "one"),
        ("user", "two"),
        ("assistant", "two"),
    ]
