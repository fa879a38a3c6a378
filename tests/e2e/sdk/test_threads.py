"""`client.threads` of aitronos-sdk 5.0.0 (SPEC §4, §10): create with a title, get, update (title,
metadata, state, visibility), delete, delete-all, pin and unpin, generateName."""

from __future__ import annotations

from tests.conftest import KEY_B, ORG_A, uid
from tests.e2e.sdk.helpers import Client, call, connect, kind_of, raises, say, state


async def test_create_with_a_title_and_metadata_then_get_it(sdk: Client) -> None:
    made = await call(
        sdk.threads.create_thread(
            organization_id=ORG_A, title="Support ticket 789", metadata={"userId": "u_1"}
        )
    )
    assert made.id.startswith("thread_") and made.object == "thread"
    assert (made.title, made.metadata, made.organization_id) == (
        "Support ticket 789",
        {"userId": "u_1"},
        ORG_A,
    )
    assert made.message_count == 0 and made.is_pinned is False and made.pinned_at is None
    assert made.visible_in_ui is True and made.model_extra is not None and made.model_extra["state"] == "open"
    got = await call(sdk.threads.get_thread(made.id))
    assert (got.id, got.title, got.metadata, got.created_at) == (
        made.id,
        made.title,
        made.metadata,
        made.created_at,
    )
    # The thread made here takes turns like any other.
    answer = await say(sdk, "First question", thread_id=made.id)
    assert answer["output_text"] == "First question"
    after = await call(sdk.threads.get_thread(made.id))
    assert (
        after.message_count == 2 and after.title == "Support ticket 789" and after.last_model_used == "echo"
    )


async def test_create_hidden_threads_lists_them_only_when_hidden_ones_are_asked(sdk: Client) -> None:
    hidden = await call(
        sdk.threads.create_thread(organization_id=ORG_A, title="internal", visible_in_ui=False)
    )
    shown = await call(sdk.threads.create_thread(organization_id=ORG_A, title="public"))
    assert [t.id for t in (await call(sdk.threads.list_threads())).data] == [shown.id]
    assert [t.id for t in (await call(sdk.threads.list_threads(visible_in_ui=False))).data] == [hidden.id]
    assert (await call(sdk.threads.get_thread(hidden.id))).visible_in_ui is False


async def test_create_for_another_organization_is_refused(sdk: Client) -> None:
    await raises(
        lambda: sdk.threads.create_thread(organization_id="org_someone_else", title="x"),
        403,
        "ORGANIZATION_ACCESS_DENIED",
    )
    assert (await call(sdk.threads.list_threads())).data == []


async def test_get_of_an_unknown_thread_is_404(sdk: Client) -> None:
    await raises(lambda: sdk.threads.get_thread("thread_never_made"), 404, "THREAD_NOT_FOUND")


async def test_update_title_and_merge_metadata_key_by_key(sdk: Client) -> None:
    made = await call(
        sdk.threads.create_thread(organization_id=ORG_A, title="Old", metadata={"keep": "k", "drop": "d"})
    )
    updated = await call(
        sdk.threads.update_thread(made.id, title="New title", metadata={"drop": None, "added": 7})
    )
    assert updated.title == "New title" and updated.metadata == {"keep": "k", "added": 7}
    got = await call(sdk.threads.get_thread(made.id))
    assert got.title == "New title" and got.metadata == {"keep": "k", "added": 7}


async def test_update_state_locks_and_unlocks_the_thread(sdk: Client) -> None:
    tid = uid("gate")
    await say(sdk, "hello", thread_id=tid)
    locked = await call(sdk.threads.update_thread(tid, request_options=state("locked")))
    assert locked.model_extra is not None and locked.model_extra["state"] == "locked"
    # Metadata stays editable on a locked thread.
    relabelled = await call(sdk.threads.update_thread(tid, metadata={"reviewed": True}))
    assert relabelled.metadata == {"reviewed": True}
    await call(sdk.threads.update_thread(tid, request_options=state("open")))
    answer = await say(sdk, "open again", thread_id=tid)
    assert answer["output_text"].splitlines() == ["hello", "open again"]


async def test_update_visibility_moves_the_thread_between_the_lists(sdk: Client) -> None:
    made = await call(sdk.threads.create_thread(organization_id=ORG_A, title="soon hidden"))
    updated = await call(sdk.threads.update_thread(made.id, visible_in_ui=False))
    assert updated.visible_in_ui is False
    assert (await call(sdk.threads.list_threads())).data == []
    assert [t.id for t in (await call(sdk.threads.list_threads(visible_in_ui=False))).data] == [made.id]


async def test_an_archived_thread_refuses_updates(sdk: Client) -> None:
    made = await call(sdk.threads.create_thread(organization_id=ORG_A, title="final"))
    await call(sdk.threads.update_thread(made.id, request_options=state("archived")))
    await raises(lambda: sdk.threads.update_thread(made.id, title="changed"), 409, "THREAD_ARCHIVED")
    assert (await call(sdk.threads.get_thread(made.id))).title == "final"


async def test_delete_removes_the_thread_everywhere(sdk: Client) -> None:
    tid = uid("gone")
    await say(sdk, "short-lived", thread_id=tid)
    assert await call(sdk.threads.delete_thread(tid)) is None
    await raises(lambda: sdk.threads.get_thread(tid), 404, "THREAD_NOT_FOUND")
    assert (await call(sdk.threads.list_threads())).data == []
    # A deleted id is not silently reborn by a turn.
    await raises(
        lambda: sdk.responses.create_response(
            model="echo", inputs=[{"role": "user", "content": "x"}], thread_id=tid
        ),
        404,
        "THREAD_NOT_FOUND",
    )


async def test_delete_all_deletes_every_thread_of_the_organization_only(sdk: Client, gateway: str) -> None:
    async with connect(kind_of(sdk), gateway, key=KEY_B) as other:
        theirs = (await say(other, "not yours"))["thread_id"]
        mine = [(await say(sdk, f"mine {i}"))["thread_id"] for i in range(3)]
        hidden = (await say(sdk, "hidden too", store=False))["thread_id"]
        result = await call(sdk.threads.delete_all_threads())
        assert result.deleted == 4 and isinstance(result.message, str) and result.message
        for tid in [*mine, hidden]:
            await raises(lambda tid=tid: sdk.threads.get_thread(tid), 404, "THREAD_NOT_FOUND")
        assert (await call(sdk.threads.list_threads(include_total=True))).total == 0
        assert (await call(other.threads.get_thread(theirs))).message_count == 2
        again = await call(sdk.threads.delete_all_threads())
        assert again.deleted == 0


async def test_pin_and_unpin(sdk: Client) -> None:
    made = await call(sdk.threads.create_thread(organization_id=ORG_A, title="keep me"))
    pinned = await call(sdk.threads.pin_thread(made.id))
    assert (pinned.id, pinned.is_pinned) == (made.id, True) and pinned.pinned_at and pinned.message
    got = await call(sdk.threads.get_thread(made.id))
    assert got.is_pinned is True and got.pinned_at == pinned.pinned_at
    unpinned = await call(sdk.threads.unpin_thread(made.id))
    assert (unpinned.id, unpinned.is_pinned, unpinned.pinned_at) == (made.id, False, None)
    got = await call(sdk.threads.get_thread(made.id))
    assert got.is_pinned is False and got.pinned_at is None
    await raises(lambda: sdk.threads.pin_thread("thread_never_made"), 404, "THREAD_NOT_FOUND")


async def test_generate_name_saves_a_title_without_adding_messages_or_threads(sdk: Client) -> None:
    tid = uid("named")
    await say(sdk, "How do I reset my router password?", thread_id=tid)
    await call(sdk.threads.generate_thread_name(tid))
    got = await call(sdk.threads.get_thread(tid))
    assert isinstance(got.title, str) and 0 < len(got.title) <= 200, got.title
    assert got.message_count == 2
    # The naming call is a `store: false` call: nothing of it joins the visible list.
    assert [t.id for t in (await call(sdk.threads.list_threads())).data] == [tid]
    await raises(lambda: sdk.threads.generate_thread_name("thread_never_made"), 404, "THREAD_NOT_FOUND")
