"""`client.responses` of the `openai` SDK as its users call it (SPEC §14): create with a string and
with items, `output_text`, the response object as OpenAI and Open Responses define it, retrieve,
delete, input items, and `store: false`."""

from __future__ import annotations

import time

import httpx
import openai

from tests.e2e.openai.helpers import Client, call, every, raises, say, strict_response


async def test_a_string_input_is_one_user_message_and_output_text_is_the_answer(client: Client) -> None:
    response = await say(client, "Hello there")
    assert response.output_text == "Hello there"
    assert response.id.startswith("resp_") and response.object == "response"
    assert response.status == "completed" and response.model == "echo"
    assert abs(response.created_at - time.time()) < 600
    [item] = response.output
    assert (item.type, item.role, item.status) == ("message", "assistant", "completed")
    assert [(c.type, c.text) for c in item.content] == [("output_text", "Hello there")]  # type: ignore[union-attr]
    assert response.conversation is None and response.previous_response_id is None
    assert response.usage is not None
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens > 0


async def test_items_of_every_role_and_content_form_reach_the_model(client: Client) -> None:
    response = await call(
        client.responses.create(
            model="echo",
            input=[
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": "an earlier answer"},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "second"}]},
                {
                    "role": "user",
                    "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}],
                },
            ],
        )
    )
    # echo answers every user text it received, one per line (system and assistant texts are not users').
    assert response.output_text == "first\nsecond\na\nb"


async def test_an_output_item_sent_back_as_input_is_accepted(client: Client) -> None:
    first = await say(client, "remember me")
    item = first.output[0].model_dump(exclude_none=True)
    second = await call(
        client.responses.create(model="echo", input=[item, {"role": "user", "content": "and now?"}])
    )
    assert second.output_text == "and now?"


async def test_the_response_object_is_the_sdks_and_open_responses_own(http: httpx.AsyncClient) -> None:
    r = await http.post(
        "/v1/responses",
        json={
            "model": "echo",
            "input": "shape",
            "instructions": "Answer as a pirate.",
            "metadata": {"ticket": "T-1"},
            "temperature": 0.3,
            "top_p": 0.9,
            "max_output_tokens": 64,
            "user": "end-user-7",
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    response = strict_response(body)
    assert isinstance(body["created_at"], int)
    assert (response.instructions, response.metadata, response.user) == (
        "Answer as a pirate.",
        {"ticket": "T-1"},
        "end-user-7",
    )
    assert (response.temperature, response.top_p, response.max_output_tokens) == (0.3, 0.9, 64)
    assert (response.store, response.tools, response.tool_choice) == (True, [], "auto")
    assert body["usage"]["input_tokens_details"]["cached_tokens"] == 0
    assert body["output"][0]["id"].startswith("msg_")


async def test_retrieve_gives_the_same_response_with_what_the_request_set(client: Client) -> None:
    made = await say(client, "keep this", instructions="Be kind.", metadata={"k": "v"}, temperature=0.5)
    got = await call(client.responses.retrieve(made.id))
    assert got.id == made.id and got.output_text == "keep this"
    assert got.output[0].id == made.output[0].id
    assert (got.instructions, got.metadata, got.temperature) == ("Be kind.", {"k": "v"}, 0.5)
    assert got.usage == made.usage


async def test_retrieve_raw_validates_strictly(client: Client, http: httpx.AsyncClient) -> None:
    made = await say(client, "raw")
    r = await http.get(f"/v1/responses/{made.id}")
    assert r.status_code == 200
    assert strict_response(r.json()).id == made.id


async def test_delete_removes_the_response_for_retrieve_and_for_chaining(client: Client) -> None:
    made = await say(client, "short-lived")
    assert await call(client.responses.delete(made.id)) is None
    await raises(lambda: client.responses.retrieve(made.id), openai.NotFoundError, 404)
    await raises(
        lambda: client.responses.create(model="echo", input="x", previous_response_id=made.id),
        openai.NotFoundError,
        404,
    )
    await raises(lambda: client.responses.delete(made.id), openai.NotFoundError, 404)


async def test_delete_answers_openais_deleted_object(http: httpx.AsyncClient) -> None:
    made = (await http.post("/v1/responses", json={"model": "echo", "input": "x"})).json()
    r = await http.delete(f"/v1/responses/{made['id']}")
    assert (r.status_code, r.json()) == (200, {"id": made["id"], "object": "response", "deleted": True})


async def test_input_items_are_what_the_model_saw_newest_first(client: Client) -> None:
    first = await say(client, "one")
    second = await say(client, "two", previous_response_id=first.id, instructions="not an item")
    items = await every(client.responses.input_items.list(second.id))
    assert [(i.role, i.content[0].text) for i in items] == [  # type: ignore[union-attr]
        ("user", "two"),
        ("assistant", "one"),
        ("user", "one"),
    ]
    assert [i.type for i in items] == ["message"] * 3
    assert items[1].content[0].type == "output_text" and items[0].content[0].type == "input_text"  # type: ignore[union-attr]
    ascending = await every(client.responses.input_items.list(second.id, order="asc"))
    assert [i.id for i in ascending] == [i.id for i in reversed(items)]


async def test_input_items_page_with_after_walks_the_list_once(client: Client) -> None:
    made = await call(
        client.responses.create(model="echo", input=[{"role": "user", "content": f"m{i}"} for i in range(7)])
    )
    page = await call(client.responses.input_items.list(made.id, limit=3, order="asc"))
    assert [i.content[0].text for i in page.data] == ["m0", "m1", "m2"] and page.has_more
    # The SDK's own paging (`after` = the last id) walks the rest.
    walked = await every(client.responses.input_items.list(made.id, limit=3, order="asc"))
    assert [i.content[0].text for i in walked] == [f"m{i}" for i in range(7)]
    assert len({i.id for i in walked}) == 7
    newest_first = await every(client.responses.input_items.list(made.id, limit=2))
    assert [i.content[0].text for i in newest_first] == [f"m{i}" for i in reversed(range(7))]


async def test_input_items_of_an_unknown_cursor_or_response_are_refused(
    client: Client, http: httpx.AsyncClient
) -> None:
    made = await say(client, "x")
    r = await http.get(f"/v1/responses/{made.id}/input_items", params={"after": "msg_nope"})
    assert r.status_code == 422 and r.json()["error"]["param"] == "after"
    await raises(lambda: client.responses.input_items.list("resp_missing"), openai.NotFoundError, 404)


async def test_store_false_answers_and_keeps_nothing(client: Client, http: httpx.AsyncClient) -> None:
    threads_before = (await http.get("/v1/threads")).json()["data"]
    made = await say(client, "forget me", store=False)
    assert made.output_text == "forget me" and made.store is False
    await raises(lambda: client.responses.retrieve(made.id), openai.NotFoundError, 404)
    await raises(
        lambda: client.responses.create(model="echo", input="x", previous_response_id=made.id),
        openai.NotFoundError,
        404,
    )
    assert (await http.get("/v1/threads")).json()["data"] == threads_before


async def test_a_response_without_a_conversation_makes_no_thread(
    client: Client, http: httpx.AsyncClient
) -> None:
    before = [(await http.get("/v1/threads", params={"visible_in_ui": v})).json() for v in ("true", "false")]
    made = await say(client, "standalone")
    after = [(await http.get("/v1/threads", params={"visible_in_ui": v})).json() for v in ("true", "false")]
    assert after == before
    assert (await http.get(f"/v1/threads/{made.id}")).status_code == 404
