"""The store's codecs (gateway.store.codec): every field of a thread, a message and an assistant
survives its stored form, as both backends keep them."""

from __future__ import annotations

from gateway.core.records import AssistantRecord, MessageRecord, ThreadRecord
from gateway.store.codec import (
    assistant_fields,
    assistant_of,
    decode_response,
    encode_response,
    encode_texts,
    message_of,
    name_key,
    thread_fields,
    thread_of,
)
from tests.integration.store_contract.helpers import response

S = 1_000_000
T0 = 1_800_000_000 * S


def test_a_thread_with_every_field_set_comes_back_whole() -> None:
    t = ThreadRecord(
        org="o1",
        id="t_1",
        state="locked",
        visible=False,
        metadata={"k": ["v", 1]},
        message_count=4,
        input_tokens=7,
        output_tokens=9,
        created_us=T0,
        updated_us=T0 + 1,
        last_message_us=T0 + 2,
        expires_us=T0 + 3,
        title="A title",
        pinned_us=T0 + 4,
        last_model="openai/gpt-x",
        edited_us=T0 + 5,
        assistant_id="asst_1",
        user="user_1",
    )
    assert thread_of(thread_fields(t)) == t
    bare = ThreadRecord(org="o1", id="t_2", created_us=T0, updated_us=T0, expires_us=T0 + 1)
    assert thread_of(thread_fields(bare)) == bare


def test_a_message_is_read_from_either_backend_s_fields() -> None:
    fields = {
        "id": "msg_1",
        "role": "assistant",
        "response_id": "resp_1",
        "created_us": T0,
        "thread_id": "t_1",
        "seq": 3,
    }
    expected = MessageRecord(
        id="msg_1",
        role="assistant",
        texts=("a", "b"),
        response_id="resp_1",
        created_us=T0,
        thread_id="t_1",
        seq=3,
        metadata={"k": "v"},
    )
    as_sqlite = message_of({**fields, "texts": encode_texts(("a", "b")), "metadata": '{"k":"v"}'})
    as_mongo = message_of({**fields, "texts": ["a", "b"], "metadata": '{"k":"v"}'})
    assert as_sqlite == expected and as_mongo == expected
    assert message_of({**fields, "texts": ["a", "b"], "metadata": None}).metadata == {}


def test_an_assistant_with_every_field_set_comes_back_whole() -> None:
    a = AssistantRecord(
        org="o1",
        id="asst_1",
        name="Support Bot",
        instructions="Answer in French.",
        model="anthropic/claude-x",
        memory="readonly",
        description="the support desk",
        metadata={"team": "care"},
        created_us=T0,
        updated_us=T0 + 1,
    )
    stored = assistant_fields(a)
    assert stored["name_key"] == name_key("Support Bot")
    assert assistant_of(stored) == a


def test_a_response_survives_its_encoding() -> None:
    r = response("o1", thread_id="t_1", text="the answer")
    assert decode_response(encode_response(r)) == r
