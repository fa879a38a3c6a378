"""`client.conversations` of the `openai` SDK (SPEC §14): create, retrieve, update, delete, items
list / create / retrieve / delete, responses in a conversation, and a conversation being a thread
(made here: in `/v1/threads`; a Freddy thread: a conversation here), with the thread's state
rules."""

from __future__ import annotations

import httpx
import openai
from openai.types.conversations import Conversation, ConversationItemList, Message

from tests.conftest import uid
from tests.e2e.openai.helpers import Client, call, every, raises, say, set_state, thread_texts


async def test_create_retrieve_update_delete(client: Client) -> None:
    made = await call(client.conversations.create(metadata={"topic": "billing"}))
    assert made.id.startswith("conv_") and made.object == "conversation"
    assert made.metadata == {"topic": "billing"}
    got = await call(client.conversations.retrieve(made.id))
    assert (got.id, got.created_at, got.metadata) == (made.id, made.created_at, {"topic": "billing"})
    # Update replaces the metadata as a whole.
    updated = await call(client.conversations.update(made.id, metadata={"priority": "high"}))
    assert updated.metadata == {"priority": "high"}
    assert (await call(client.conversations.retrieve(made.id))).metadata == {"priority": "high"}
    deleted = await call(client.conversations.delete(made.id))
    assert (deleted.id, deleted.deleted, deleted.object) == (made.id, True, "conversation.deleted")
    await raises(lambda: client.conversations.retrieve(made.id), openai.NotFoundError, 404)


async def test_the_objects_validate_strictly(http: httpx.AsyncClient) -> None:
    r = await http.post("/v1/conversations", json={"items": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    conversation = Conversation.model_validate(r.json(), strict=True)
    items = (await http.get(f"/v1/conversations/{conversation.id}/items")).json()
    page = ConversationItemList.model_validate(items, strict=True)
    assert isinstance(page.data[0], Message) and page.data[0].role == "user"


async def test_items_given_at_creation_are_the_conversations_history(client: Client) -> None:
    made = await call(
        client.conversations.create(
            items=[
                {"type": "message", "role": "user", "content": "I am Bo."},
                {"type": "message", "role": "assistant", "content": "Hello Bo."},
            ]
        )
    )
    answer = await say(client, "Who am I?", conversation=made.id)
    assert answer.output_text.splitlines() == ["I am Bo.", "Who am I?"]
    assert answer.conversation is not None and answer.conversation.id == made.id
    items = await every(client.conversations.items.list(made.id, order="asc"))
    assert [(i.role, i.content[0].text) for i in items] == [  # type: ignore[union-attr]
        ("user", "I am Bo."),
        ("assistant", "Hello Bo."),
        ("user", "Who am I?"),
        ("assistant", "I am Bo.\nWho am I?"),
    ]
    # The answer's output item is the conversation's item of the same id.
    assert items[-1].id == answer.output[0].id


async def test_items_list_newest_first_by_default_and_pages(client: Client) -> None:
    made = await call(
        client.conversations.create(items=[{"role": "user", "content": f"u{i}"} for i in range(5)])
    )
    page = await call(client.conversations.items.list(made.id, limit=2))
    assert [i.content[0].text for i in page.data] == ["u4", "u3"] and page.has_more  # type: ignore[union-attr]
    walked = await every(client.conversations.items.list(made.id, limit=2))
    assert [i.content[0].text for i in walked] == ["u4", "u3", "u2", "u1", "u0"]  # type: ignore[union-attr]


async def test_items_create_appends_and_the_next_response_sees_them(client: Client) -> None:
    made = await call(client.conversations.create())
    added = await call(
        client.conversations.items.create(
            made.id,
            items=[{"role": "user", "content": "note A"}, {"role": "system", "content": "be terse"}],
        )
    )
    assert [(i.role, i.content[0].text) for i in added.data] == [("user", "note A"), ("system", "be terse")]
    assert added.first_id == added.data[0].id and added.last_id == added.data[-1].id
    answer = await say(client, "note B", conversation=made.id)
    assert answer.output_text.splitlines() == ["note A", "note B"]


async def test_item_retrieve_and_delete(client: Client) -> None:
    made = await call(
        client.conversations.create(items=[{"role": "user", "content": t} for t in ("a", "b", "c")])
    )
    items = await every(client.conversations.items.list(made.id, order="asc"))
    for item, text in zip(items, "abc", strict=True):
        got = await call(client.conversations.items.retrieve(item.id, conversation_id=made.id))
        assert (got.id, got.content[0].text) == (item.id, text)  # type: ignore[union-attr]
    after = await call(client.conversations.items.delete(items[1].id, conversation_id=made.id))
    assert isinstance(after, Conversation) and after.id == made.id
    left = await every(client.conversations.items.list(made.id, order="asc"))
    assert [i.content[0].text for i in left] == ["a", "c"]  # type: ignore[union-attr]
    await raises(
        lambda: client.conversations.items.retrieve(items[1].id, conversation_id=made.id),
        openai.NotFoundError,
        404,
    )
    await raises(
        lambda: client.conversations.items.retrieve("msg_unknown", conversation_id=made.id),
        openai.NotFoundError,
        404,
    )


async def test_a_conversation_made_here_is_a_thread_of_the_freddy_door(
    client: Client, http: httpx.AsyncClient
) -> None:
    made = await call(client.conversations.create(metadata={"via": "openai"}))
    await say(client, "hi", conversation=made.id)
    thread = (await http.get(f"/v1/threads/{made.id}")).json()
    assert (thread["id"], thread["metadata"], thread["message_count"]) == (made.id, {"via": "openai"}, 2)
    assert thread["visible_in_ui"] is True
    assert made.id in [t["id"] for t in (await http.get("/v1/threads")).json()["data"]]


async def test_a_freddy_thread_is_a_conversation_here(client: Client, http: httpx.AsyncClient) -> None:
    tid = uid("freddy")
    r = await http.post(
        "/v1/model/response",
        json={"model": "echo", "thread": tid, "inputs": [{"role": "user", "content": "from freddy"}]},
    )
    assert r.status_code == 200, r.text
    got = await call(client.conversations.retrieve(tid))
    assert got.id == tid
    answer = await say(client, "from openai", conversation={"id": tid})
    assert answer.output_text.splitlines() == ["from freddy", "from openai"]
    assert await thread_texts(http, tid) == [
        ("user", "from freddy"),
        ("assistant", "from freddy"),
        ("user", "from openai"),
        ("assistant", "from freddy\nfrom openai"),
    ]


async def test_a_locked_or_archived_conversation_refuses_responses_and_items(
    client: Client, http: httpx.AsyncClient
) -> None:
    made = await call(client.conversations.create())
    await say(client, "before", conversation=made.id)
    await set_state(http, made.id, "locked")
    exc = await raises(lambda: say(client, "x", conversation=made.id), openai.ConflictError, 409)
    assert exc.body["code"] == "thread_locked"  # type: ignore[index]
    await raises(
        lambda: client.conversations.items.create(made.id, items=[{"role": "user", "content": "x"}]),
        openai.ConflictError,
        409,
    )
    await set_state(http, made.id, "archived")
    exc = await raises(lambda: say(client, "x", conversation=made.id), openai.ConflictError, 409)
    assert exc.body["code"] == "thread_archived"  # type: ignore[index]
    await raises(lambda: client.conversations.update(made.id, metadata={"a": "b"}), openai.ConflictError, 409)
    assert await thread_texts(http, made.id) == [("user", "before"), ("assistant", "before")]


async def test_an_unknown_conversation_is_404_and_is_not_created(
    client: Client, http: httpx.AsyncClient
) -> None:
    await raises(lambda: say(client, "x", conversation="conv_never_made"), openai.NotFoundError, 404)
    assert (await http.get("/v1/threads/conv_never_made")).status_code == 404
    await raises(lambda: client.conversations.retrieve("conv_never_made"), openai.NotFoundError, 404)
    await raises(lambda: client.conversations.items.list("conv_never_made"), openai.NotFoundError, 404)


async def test_store_false_in_a_conversation_sees_it_and_adds_nothing(
    client: Client, http: httpx.AsyncClient
) -> None:
    made = await call(client.conversations.create(items=[{"role": "user", "content": "context"}]))
    answer = await say(client, "peek", conversation=made.id, store=False)
    assert answer.output_text.splitlines() == ["context", "peek"]
    assert await thread_texts(http, made.id) == [("user", "context")]
    await raises(lambda: client.responses.retrieve(answer.id), openai.NotFoundError, 404)


async def test_a_deleted_conversation_is_gone_for_responses_too(client: Client) -> None:
    made = await call(client.conversations.create())
    answer = await say(client, "x", conversation=made.id)
    await call(client.conversations.delete(made.id))
    await raises(lambda: say(client, "y", conversation=made.id), openai.NotFoundError, 404)
    await raises(lambda: client.responses.retrieve(answer.id), openai.NotFoundError, 404)
