"""`previous_response_id` as OpenAI chains it (SPEC §14): the model sees what the previous response
saw and its output, then the new input; chains branch; a response of a conversation can start a
chain without the chain writing to the conversation; instructions are not carried over."""

from __future__ import annotations

import httpx
import openai

from tests.e2e.openai.helpers import Client, call, raises, say, thread_texts


async def test_a_chain_carries_every_earlier_turn(client: Client) -> None:
    first = await say(client, "My name is Ada.")
    second = await say(client, "I like tea.", previous_response_id=first.id)
    third = await say(client, "What do you know?", previous_response_id=second.id)
    assert third.output_text.splitlines() == ["My name is Ada.", "I like tea.", "What do you know?"]
    assert (second.previous_response_id, third.previous_response_id) == (first.id, second.id)
    assert third.conversation is None


async def test_two_branches_from_one_response_do_not_see_each_other(client: Client) -> None:
    root = await say(client, "root")
    left = await say(client, "left", previous_response_id=root.id)
    right = await say(client, "right", previous_response_id=root.id)
    assert left.output_text.splitlines() == ["root", "left"]
    assert right.output_text.splitlines() == ["root", "right"]
    deeper = await say(client, "deeper", previous_response_id=left.id)
    assert deeper.output_text.splitlines() == ["root", "left", "deeper"]
    again = await say(client, "again", previous_response_id=right.id)
    assert again.output_text.splitlines() == ["root", "right", "again"]


async def test_a_chain_from_a_conversations_response_leaves_the_conversation_alone(
    client: Client, http: httpx.AsyncClient
) -> None:
    conversation = await call(client.conversations.create())
    in_conversation = await say(client, "inside", conversation=conversation.id)
    assert in_conversation.conversation is not None and in_conversation.conversation.id == conversation.id
    chained = await say(client, "outside", previous_response_id=in_conversation.id)
    assert chained.output_text.splitlines() == ["inside", "outside"]
    assert chained.conversation is None
    assert await thread_texts(http, conversation.id) == [("user", "inside"), ("assistant", "inside")]


async def test_instructions_are_kept_with_their_response_only(client: Client) -> None:
    first = await say(client, "one", instructions="Talk like a pirate.")
    second = await say(client, "two", previous_response_id=first.id)
    assert first.instructions == "Talk like a pirate."
    assert second.instructions is None
    assert (await call(client.responses.retrieve(second.id))).instructions is None


async def test_an_unknown_previous_response_is_404_and_makes_nothing(
    client: Client, http: httpx.AsyncClient
) -> None:
    before = (await http.get("/v1/threads")).json()
    exc = await raises(
        lambda: client.responses.create(model="echo", input="x", previous_response_id="resp_nope"),
        openai.NotFoundError,
        404,
    )
    assert exc.body["code"] == "response_not_found"  # type: ignore[index]
    assert (await http.get("/v1/threads")).json() == before


async def test_a_chain_of_a_store_false_response_keeps_nothing_new(client: Client) -> None:
    first = await say(client, "kept")
    unkept = await say(client, "not kept", previous_response_id=first.id, store=False)
    assert unkept.output_text.splitlines() == ["kept", "not kept"]
    await raises(lambda: client.responses.retrieve(unkept.id), openai.NotFoundError, 404)
    # The response it continued is still there, unchanged.
    assert (await call(client.responses.retrieve(first.id))).output_text == "kept"
