"""`client.messages` of aitronos-sdk 5.0.0 (SPEC §4.2, §10): list (with `content`), update one
message's content and metadata, delete one message; open threads only; the thread's count and the
history the model sees follow."""

from __future__ import annotations

from aitronos import NotFoundError

from tests.conftest import uid
from tests.e2e.sdk.helpers import Client, call, raises, say, state


async def conversation(sdk: Client) -> str:
    tid = uid("conv")
    await say(sdk, "first", thread_id=tid)
    await say(sdk, "second", thread_id=tid)
    return tid


async def test_list_gives_every_message_with_its_content_in_order(sdk: Client) -> None:
    tid = await conversation(sdk)
    page = await call(sdk.messages.get_thread_messages(tid))
    assert page.object == "list" and page.has_more is False
    assert [(m.role, m.content) for m in page.data] == [
        ("user", "first"),
        ("assistant", "first"),
        ("user", "second"),
        ("assistant", "first\nsecond"),
    ]
    assert all(m.thread_id == tid and m.id.startswith("msg_") for m in page.data)
    assert (page.first_id, page.last_id) == (page.data[0].id, page.data[-1].id)
    newest_first = await call(sdk.messages.get_thread_messages(tid, order="desc"))
    assert [m.id for m in newest_first.data] == [m.id for m in page.data][::-1]


async def test_list_pages_with_limit_and_after(sdk: Client) -> None:
    tid = await conversation(sdk)
    everything = [m.id for m in (await call(sdk.messages.get_thread_messages(tid))).data]
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = await call(sdk.messages.get_thread_messages(tid, limit=3, after=after))
        seen += [m.id for m in page.data]
        if not page.has_more:
            break
        after = page.last_id
    assert seen == everything


async def test_list_of_an_unknown_thread_raises_not_found(sdk: Client) -> None:
    await raises(
        lambda: sdk.messages.get_thread_messages("thread_never_made"),
        404,
        "THREAD_NOT_FOUND",
        kind=NotFoundError,
    )


async def test_update_changes_a_message_and_the_history_the_model_sees(sdk: Client) -> None:
    tid = await conversation(sdk)
    first = (await call(sdk.messages.get_thread_messages(tid))).data[0]
    updated = await call(
        sdk.messages.update_message(tid, first.id, content="first, edited", metadata={"edited_by": "ops"})
    )
    assert (updated.id, updated.thread_id, updated.role) == (first.id, tid, "user")
    assert updated.content == "first, edited" and updated.metadata == {"edited_by": "ops"}
    listed = (await call(sdk.messages.get_thread_messages(tid))).data
    assert [m.content for m in listed][:2] == ["first, edited", "first"]
    assert listed[0].metadata == {"edited_by": "ops"}
    assert (await call(sdk.threads.get_thread(tid))).message_count == 4
    answer = await say(sdk, "third", thread_id=tid)
    assert answer["output_text"].splitlines() == ["first, edited", "second", "third"]


async def test_update_of_the_metadata_alone_keeps_the_content(sdk: Client) -> None:
    tid = await conversation(sdk)
    reply = (await call(sdk.messages.get_thread_messages(tid))).data[1]
    updated = await call(sdk.messages.update_message(tid, reply.id, metadata={"rating": 5}))
    assert updated.content == "first" and updated.metadata == {"rating": 5}


async def test_delete_one_message_keeps_count_and_order_consistent(sdk: Client) -> None:
    tid = await conversation(sdk)
    before = (await call(sdk.messages.get_thread_messages(tid))).data
    deleted = await call(sdk.messages.delete_message(tid, before[2].id))
    assert deleted.id == before[2].id and deleted.deleted is True
    assert deleted.object == "thread.message.deleted"
    after = (await call(sdk.messages.get_thread_messages(tid))).data
    assert [m.id for m in after] == [before[0].id, before[1].id, before[3].id]
    assert (await call(sdk.threads.get_thread(tid))).message_count == 3
    answer = await say(sdk, "third", thread_id=tid)
    assert answer["output_text"].splitlines() == ["first", "third"]
    await raises(lambda: sdk.messages.delete_message(tid, before[2].id), 404, kind=NotFoundError)


async def test_messages_of_a_locked_thread_can_be_neither_updated_nor_deleted(sdk: Client) -> None:
    tid = await conversation(sdk)
    first = (await call(sdk.messages.get_thread_messages(tid))).data[0]
    await call(sdk.threads.update_thread(tid, request_options=state("locked")))
    # No retries: the SDK would otherwise retry each 409 twice, a second or more apart.
    once = {"max_retries": 0}
    await raises(
        lambda: sdk.messages.update_message(tid, first.id, content="rewritten", request_options=once),
        409,
        "THREAD_LOCKED",
    )
    await raises(
        lambda: sdk.messages.delete_message(tid, first.id, request_options=once), 409, "THREAD_LOCKED"
    )
    listed = (await call(sdk.messages.get_thread_messages(tid))).data
    assert len(listed) == 4 and listed[0].content == "first"


async def test_an_unknown_message_raises_not_found(sdk: Client) -> None:
    tid = await conversation(sdk)
    await raises(
        lambda: sdk.messages.update_message(tid, "msg_never_made", content="x"), 404, kind=NotFoundError
    )
