"""The failures of `create_response` raise aitronos-sdk's own `ApiError` (its status and the body of
SPEC §8), and `stream=True` hands back the whole event stream, which ends with `data: [DONE]`."""

from __future__ import annotations

from aitronos import ChatRequestToolsItem_Function, UnauthorizedError

from tests.conftest import uid
from tests.e2e.sdk.helpers import (
    Client,
    call,
    completed_text,
    connect,
    event_stream,
    kind_of,
    raises,
    say,
    state,
    user,
)


async def test_a_bad_key_raises_the_sdk_errors_with_status_401(sdk: Client, gateway: str) -> None:
    async with connect(kind_of(sdk), gateway, key="ak_not_a_key_of_this_gateway") as stranger:
        await raises(
            lambda: stranger.responses.create_response(model="echo", inputs=[user("Hi")]),
            401,
            "INVALID_API_KEY",
        )
        # The messages endpoints map 401 to the SDK's own subclass.
        await raises(
            lambda: stranger.messages.get_thread_messages("thread_anything"),
            401,
            "INVALID_API_KEY",
            kind=UnauthorizedError,
        )
        await raises(lambda: stranger.threads.list_threads(), 401, "INVALID_API_KEY")
    # Nothing was made for the stranger's turn.
    assert (await call(sdk.threads.list_threads())).data == []


async def test_an_unknown_model_raises_404_model_not_found(sdk: Client) -> None:
    exc = await raises(
        lambda: sdk.responses.create_response(model="no-such-model-xyz", inputs=[user("Hi")]),
        404,
        "MODEL_NOT_FOUND",
    )
    assert exc.body["success"] is False and exc.body["error"]["status"] == 404
    assert (await call(sdk.threads.list_threads())).data == []


async def test_a_locked_thread_refuses_a_turn_with_409_and_saves_nothing(sdk: Client) -> None:
    tid = uid("locked")
    await say(sdk, "Last words", thread_id=tid)
    locked = await call(sdk.threads.update_thread(tid, request_options=state("locked")))
    assert locked.model_extra is not None and locked.model_extra["state"] == "locked"
    # The SDK retries a 409 twice before it raises; the gateway refuses every attempt alike.
    await raises(
        lambda: sdk.responses.create_response(model="echo", inputs=[user("One more")], thread_id=tid),
        409,
        "THREAD_LOCKED",
    )
    assert (await call(sdk.threads.get_thread(tid))).message_count == 2


async def test_unimplemented_freddy_fields_at_their_defaults_are_accepted(sdk: Client) -> None:
    answer = await say(
        sdk,
        "Plain turn",
        tools=[],
        include=[],
        vector_store_ids=[],
        system_tools={},
        disable_rules=False,
        space_id=None,
        workflow_id=None,
    )
    assert answer["output_text"] == "Plain turn"


async def test_a_tool_the_gateway_cannot_serve_is_refused_naming_the_field(sdk: Client) -> None:
    tool = ChatRequestToolsItem_Function(name="lookup", parameters={"type": "object", "properties": {}})
    exc = await raises(
        lambda: sdk.responses.create_response(model="echo", inputs=[user("Use the tool")], tools=[tool]),
        400,
        "UNSUPPORTED_PARAMETER",
    )
    assert "tools" in exc.body["error"]["message"]
    # Refused whole: no thread was started for it.
    assert (await call(sdk.threads.list_threads())).data == []


async def test_stream_true_answers_the_event_stream_ending_with_done(sdk: Client) -> None:
    tid = uid("stream")
    await say(sdk, "Before", thread_id=tid)
    exc = await raises(
        lambda: sdk.responses.create_response(
            model="echo", inputs=[user("Stream me")], thread_id=tid, stream=True
        ),
        200,
    )
    events, data_lines = event_stream(exc)
    names = [name for name, _ in events]
    assert names[0] == "response.created" and "response.output_text.done" in names, names
    deltas = "".join(data["delta"] for name, data in events if name == "response.output_text.delta")
    assert deltas == completed_text(events) == "Before\nStream me"
    assert data_lines[-1] == "data: [DONE]"
    assert (await call(sdk.threads.get_thread(tid))).message_count == 4


async def test_a_refused_stream_is_a_plain_json_error(sdk: Client) -> None:
    exc = await raises(
        lambda: sdk.responses.create_response(model="no-such-model-xyz", inputs=[user("Hi")], stream=True),
        404,
        "MODEL_NOT_FOUND",
    )
    assert isinstance(exc.body, dict) and exc.body["success"] is False
