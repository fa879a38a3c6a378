"""Streams of `POST /v1/responses` (SPEC §14): OpenAI's event names, order and `sequence_number`,
`stream=True` and `client.responses.stream(...)` iterated to their end, every event valid for the
SDK's models and for Open Responses, and what a finished stream saved."""

from __future__ import annotations

import httpx
import openai
from openai.types.responses import Response

from tests.e2e.openai.helpers import (
    DONE_EVENTS,
    TEXT_EVENTS,
    Client,
    call,
    every,
    helper_stream,
    raises,
    raw_stream,
    say,
    strict_response,
    thread_texts,
)


async def test_stream_true_iterates_openais_events_to_the_end(client: Client) -> None:
    events = await every(client.responses.create(model="echo", input="streamed words", stream=True))
    names = [e.type for e in events]
    assert names[:4] == TEXT_EVENTS and names[-4:] == DONE_EVENTS
    assert set(names[4:-4]) == {"response.output_text.delta"}
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "streamed words"
    completed = events[-1].response
    assert isinstance(completed, Response) and completed.output_text == "streamed words"
    assert events[0].response.status == "in_progress" and events[0].response.output == []
    assert events[0].response.id == completed.id


async def test_the_stream_helper_gives_text_deltas_and_the_final_response(client: Client) -> None:
    events, final = await helper_stream(client, model="echo", input="helper text")
    assert final.output_text == "helper text" and final.status == "completed"
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert deltas and deltas[-1].snapshot == "helper text"
    done = next(e for e in events if e.type == "response.output_text.done")
    assert done.text == "helper text"
    # The streamed response is stored: retrieve gives the same one.
    got = await call(client.responses.retrieve(final.id))
    assert (got.output_text, got.output[0].id) == ("helper text", final.output[0].id)


async def test_every_raw_event_validates_and_names_one_item(http: httpx.AsyncClient) -> None:
    events = await raw_stream(http, {"model": "echo", "input": "raw events", "metadata": {"a": "1"}})
    item_ids = {e["item"]["id"] for e in events if "item" in e} | {
        e["item_id"] for e in events if "item_id" in e
    }
    assert len(item_ids) == 1
    completed = strict_response(events[-1]["response"])
    assert completed.output[0].id in item_ids and completed.metadata == {"a": "1"}
    added = next(e for e in events if e["type"] == "response.output_item.added")
    assert added["item"]["status"] == "in_progress" and added["item"]["content"] == []


async def test_a_stream_in_a_conversation_is_saved_before_it_completes(
    client: Client, http: httpx.AsyncClient
) -> None:
    made = await call(client.conversations.create(items=[{"role": "user", "content": "before"}]))
    _, final = await helper_stream(client, model="echo", input="during", conversation=made.id)
    assert final.output_text.splitlines() == ["before", "during"]
    assert final.conversation is not None and final.conversation.id == made.id
    assert await thread_texts(http, made.id) == [
        ("user", "before"),
        ("user", "during"),
        ("assistant", "before\nduring"),
    ]
    # The item the stream announced is the conversation's item.
    items = await every(client.conversations.items.list(made.id))
    assert items[0].id == final.output[0].id


async def test_a_stream_with_store_false_keeps_nothing(client: Client) -> None:
    _, final = await helper_stream(client, model="echo", input="ephemeral", store=False)
    assert final.output_text == "ephemeral" and final.store is False
    await raises(lambda: client.responses.retrieve(final.id), openai.NotFoundError, 404)


async def test_a_streamed_chain_continues_a_json_response(client: Client) -> None:
    first = await say(client, "json first")
    _, final = await helper_stream(client, model="echo", input="stream second", previous_response_id=first.id)
    assert final.output_text.splitlines() == ["json first", "stream second"]
    assert final.previous_response_id == first.id


async def test_errors_before_the_model_are_plain_json_even_for_a_stream(http: httpx.AsyncClient) -> None:
    r = await http.post(
        "/v1/responses", json={"model": "echo", "input": "x", "stream": True, "conversation": "nope"}
    )
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")
    assert r.json()["error"]["code"] == "thread_not_found"
    r = await http.post("/v1/responses", json={"model": "no-such-model", "input": "x", "stream": True})
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
