"""`client.assistants` of aitronos-sdk 5.0.0 against the real app (SPEC §11): create, list (its
`AssistantListResponse` with pagination and search), get, update, delete, parsed by the SDK's own
models; an assistant's turn without a model; a thread made under an assistant; the SDK's errors."""

from __future__ import annotations

from aitronos import AssistantResponse

from tests.conftest import ORG_A
from tests.e2e.sdk.helpers import Client, call, raises, user


async def make(sdk: Client, name: str = "Support", **fields: object) -> AssistantResponse:
    made = await call(sdk.assistants.create_assistant(name=name, organization_id=ORG_A, **fields))
    assert isinstance(made, AssistantResponse)
    return made


async def test_create_get_update_delete_round_trip(sdk: Client) -> None:
    made = await make(
        sdk, instructions="Be brief.", default_model_key="echo", description="Desk", metadata={"k": 1}
    )
    assert made.id.startswith("asst_") and made.organization_id == ORG_A and made.created_by == ORG_A
    assert (made.name, made.instructions, made.default_model_key, made.description) == (
        "Support",
        "Be brief.",
        "echo",
        "Desk",
    )
    assert made.metadata == {"k": 1} and made.memory_enabled is False
    assert isinstance(made.created_at, int) and made.updated_at >= made.created_at
    got = await call(sdk.assistants.get_assistant(made.id))
    assert got == made
    changed = await call(
        sdk.assistants.update_assistant(
            made.id, name="Support 2", instructions="Be kind.", assistant_metadata={"j": 2}
        )
    )
    assert (changed.name, changed.instructions, changed.default_model_key) == (
        "Support 2",
        "Be kind.",
        "echo",
    )
    assert changed.metadata == {"k": 1, "j": 2}
    assert await call(sdk.assistants.get_assistant(made.id)) == changed
    assert await call(sdk.assistants.delete_assistant(made.id)) is None
    await raises(lambda: sdk.assistants.get_assistant(made.id), 404, "ASSISTANT_NOT_FOUND")
    await raises(lambda: sdk.assistants.delete_assistant(made.id), 404, "ASSISTANT_NOT_FOUND")


async def test_list_pages_and_searches_in_the_sdks_shape(sdk: Client) -> None:
    ids = [(await make(sdk, name)).id for name in ("Support bot", "Sales", "SUPPORT desk")]
    page = await call(sdk.assistants.list_assistants(organization_id=ORG_A))
    assert [a.id for a in page.assistants] == ids[::-1]
    assert page.total == 3 and page.organization_id == ORG_A
    assert (page.pagination.total, page.pagination.limit, page.pagination.offset) == (3, 20, 0)
    assert page.pagination.has_more is False and page.filters_applied.search is None
    second = await call(sdk.assistants.list_assistants(organization_id=ORG_A, limit=1, offset=1))
    assert [a.id for a in second.assistants] == [ids[1]] and second.pagination.has_more is True
    found = await call(sdk.assistants.list_assistants(organization_id=ORG_A, search="support"))
    assert [a.id for a in found.assistants] == [ids[2], ids[0]] and found.total == 2
    assert found.filters_applied.search == "support"
    # The SDK's detail levels: every answer carries the full object.
    summary = await call(sdk.assistants.list_assistants(organization_id=ORG_A, fields="summary"))
    assert [a.name for a in summary.assistants] == ["SUPPORT desk", "Sales", "Support bot"]


async def test_another_organization_id_is_refused(sdk: Client) -> None:
    await raises(
        lambda: sdk.assistants.list_assistants(organization_id="org_other"), 403, "ORGANIZATION_ACCESS_DENIED"
    )
    await raises(
        lambda: sdk.assistants.create_assistant(name="x", organization_id="org_other"),
        403,
        "ORGANIZATION_ACCESS_DENIED",
    )


async def test_memory_enabled_is_the_auto_memory_mode(sdk: Client) -> None:
    made = await call(sdk.assistants.create_assistant(name="m", organization_id=ORG_A, memory_enabled=True))
    assert made.memory_enabled is True
    assert (await call(sdk.assistants.list_assistants(organization_id=ORG_A))).total == 1


async def test_a_turn_under_an_assistant_needs_no_model_and_binds_its_thread(sdk: Client) -> None:
    aid = (await make(sdk, default_model_key="echo", instructions="Support rules.")).id
    first = await call(sdk.responses.create_response(assistant_id=aid, inputs=[user("My name is Ada.")]))
    assert first["assistant_id"] == aid and first["model"] == "echo"
    tid = first["thread_id"]
    assert (await call(sdk.threads.get_thread(tid))).assistant_id == aid
    # The thread's history goes on; its assistant's model without naming one again.
    second = await call(sdk.responses.create_response(thread_id=tid, inputs=[user("Who am I?")]))
    assert second["output_text"] == "My name is Ada.\nWho am I?" and second["assistant_id"] == aid


async def test_a_thread_created_under_an_assistant_and_the_errors_of_bad_ones(sdk: Client) -> None:
    one, two = (await make(sdk, "one", default_model_key="echo")).id, (await make(sdk, "two")).id
    thread = await call(sdk.threads.create_thread(organization_id=ORG_A, assistant_id=one, title="Ticket"))
    assert thread.assistant_id == one and thread.title == "Ticket"
    await raises(
        lambda: sdk.responses.create_response(thread_id=thread.id, assistant_id=two, inputs=[user("x")]),
        400,
        "CONFLICTING_PARAMETERS",
    )
    await raises(
        lambda: sdk.responses.create_response(assistant_id="asst_missing", inputs=[user("x")]),
        404,
        "ASSISTANT_NOT_FOUND",
    )
    await raises(
        lambda: sdk.threads.create_thread(organization_id=ORG_A, assistant_id="asst_missing"),
        404,
        "ASSISTANT_NOT_FOUND",
    )
    assert (await call(sdk.threads.get_thread(thread.id))).message_count == 0
