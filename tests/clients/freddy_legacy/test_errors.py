"""The failures of `client.responses.create` raise aitronos-freddy's own exceptions: 401 is
`AuthenticationError`, others `APIError` with the status and the error object of SPEC §8."""

from __future__ import annotations

import pytest
from freddy import APIError, AsyncFreddyClient, AuthenticationError
from gateway_process import Gateway
from helpers import Client, call, connect, say, texts, uid


async def test_a_bad_key_raises_authentication_error(freddy: Client, gateway: Gateway) -> None:
    kind = "async" if isinstance(freddy, AsyncFreddyClient) else "sync"
    async with connect(kind, gateway.url, key="ak_not_a_key_of_this_gateway") as stranger:
        with pytest.raises(AuthenticationError) as caught:
            await call(stranger.responses.create(model="echo", inputs=[texts("Hi")]))
    assert caught.value.status_code == 401
    assert caught.value.response["code"] == "INVALID_API_KEY" and caught.value.message


async def test_an_unknown_model_raises_api_error_404(freddy: Client) -> None:
    with pytest.raises(APIError) as caught:
        await call(freddy.responses.create(model="no-such-model-xyz", inputs=[texts("Hi")]))
    assert caught.value.status_code == 404 and caught.value.response["code"] == "MODEL_NOT_FOUND"


async def test_a_locked_thread_raises_409_and_saves_nothing(freddy: Client, gateway: Gateway) -> None:
    tid = uid("locked")
    await say(freddy, "Last words", thread_id=tid)
    gateway.json("PATCH", f"/v1/threads/{tid}", json={"state": "locked"})
    with pytest.raises(APIError) as caught:
        await say(freddy, "One more", thread_id=tid)
    assert caught.value.status_code == 409 and caught.value.response["code"] == "THREAD_LOCKED"
    assert gateway.json("GET", f"/v1/threads/{tid}")["message_count"] == 2


async def test_another_organization_id_raises_403(freddy: Client) -> None:
    with pytest.raises(APIError) as caught:
        await say(freddy, "theirs", organization_id="org_someone_else")
    assert caught.value.status_code == 403
    assert caught.value.response["code"] == "ORGANIZATION_ACCESS_DENIED"


async def test_previous_response_id_with_a_thread_id_raises_400(freddy: Client) -> None:
    first = await say(freddy, "One")
    with pytest.raises(APIError) as caught:
        await say(freddy, "Two", thread_id=uid("both"), previousResponseId=first.id)
    assert caught.value.status_code == 400 and caught.value.response["code"] == "CONFLICTING_PARAMETERS"


async def test_a_tool_the_gateway_cannot_serve_raises_400_naming_it(freddy: Client) -> None:
    tool = {"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}}
    with pytest.raises(APIError) as caught:
        await say(freddy, "Use the tool", tools=[tool])
    assert caught.value.status_code == 400 and caught.value.response["code"] == "UNSUPPORTED_PARAMETER"
    assert "tools" in caught.value.message
