"""Errors of the OpenAI door (SPEC §14, §8): OpenAI's envelope with the gateway's status codes, so
that the SDK raises its class for each; parameters the gateway does not implement refused by name
(`tools` included) unless at their defaults; and each door's envelope kept to its own paths."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.conftest import KEY_A, store_independent
from tests.e2e.openai.helpers import Client, call, connect, error_shape, raises, say


@store_independent
async def test_an_unknown_key_is_the_sdks_authentication_error(gateway: str) -> None:
    async with connect("async", gateway, "ak_not_a_key") as client:
        exc = await raises(lambda: say(client, "x"), openai.AuthenticationError, 401)
    assert (exc.body["type"], exc.body["code"]) == ("authentication_error", "invalid_api_key")  # type: ignore[index]


ROUTES = [
    ("POST", "/v1/responses"),
    ("GET", "/v1/responses/resp_x"),
    ("DELETE", "/v1/responses/resp_x"),
    ("GET", "/v1/responses/resp_x/input_items"),
    ("POST", "/v1/conversations"),
    ("GET", "/v1/conversations/conv_x"),
    ("POST", "/v1/conversations/conv_x"),
    ("DELETE", "/v1/conversations/conv_x"),
    ("GET", "/v1/conversations/conv_x/items"),
    ("POST", "/v1/conversations/conv_x/items"),
    ("GET", "/v1/conversations/conv_x/items/msg_x"),
    ("DELETE", "/v1/conversations/conv_x/items/msg_x"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
@store_independent
async def test_no_key_is_401_on_every_route(gateway: str, method: str, path: str) -> None:
    # The SDK refuses to send no key at all; a raw request without one is answered 401.
    async with httpx.AsyncClient(base_url=gateway) as http:
        body = {"model": "echo", "input": "x"} if method == "POST" else None
        r = await http.request(method, path, json=body)
    assert r.status_code == 401
    assert error_shape(r.json())["code"] == "authentication_required"


async def test_the_x_api_key_header_works_too(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway, headers={"X-API-Key": KEY_A}) as http:
        r = await http.post("/v1/responses", json={"model": "echo", "input": "hi"})
    assert r.status_code == 200 and r.json()["output"][0]["content"][0]["text"] == "hi"


async def test_the_envelope_carries_message_type_param_code_and_the_request_id(
    http: httpx.AsyncClient,
) -> None:
    r = await http.post(
        "/v1/responses",
        json={"model": "echo", "input": "x", "tools": [{"type": "web_search"}]},
        headers={"X-Request-ID": "req-from-the-caller"},
    )
    assert r.status_code == 400
    assert r.headers["x-request-id"] == "req-from-the-caller"
    error = error_shape(r.json())
    assert (error["type"], error["param"], error["code"]) == (
        "invalid_request_error",
        "tools",
        "unsupported_parameter",
    )


UNSUPPORTED: list[tuple[str, Any, str]] = [
    ("tools", [{"type": "function", "name": "f", "parameters": {}}], "tools"),
    ("tool_choice", "required", "tool_choice"),
    ("reasoning", {"effort": "high"}, "reasoning"),
    ("background", True, "background"),
    ("include", ["reasoning.encrypted_content"], "include"),
    ("text", {"format": {"type": "json_object"}}, "text"),
    ("top_logprobs", 3, "top_logprobs"),
    ("prompt", {"id": "pmpt_1"}, "prompt"),
    ("service_tier", "flex", "service_tier"),
    ("max_tool_calls", 2, "max_tool_calls"),
    ("prompt_cache_key", "k", "prompt_cache_key"),
    ("safety_identifier", "u", "safety_identifier"),
    ("input", [{"type": "function_call_output", "call_id": "c", "output": "4"}], "input[0]"),
    ("input", [{"type": "item_reference", "id": "msg_1"}], "input[0]"),
    (
        "input",
        [{"role": "user", "content": [{"type": "input_image", "image_url": "https://x/y.png"}]}],
        "input[0].content[0]",
    ),
]


@pytest.mark.parametrize(
    ("field", "value", "param"), UNSUPPORTED, ids=[u[2] + "=" + repr(u[1])[:20] for u in UNSUPPORTED]
)
@store_independent
async def test_an_unsupported_parameter_is_400_naming_it(
    client: Client, field: str, value: Any, param: str
) -> None:
    body = {"model": "echo", "input": "x", field: value}
    exc = await raises(lambda: client.responses.create(**body), openai.BadRequestError, 400)
    assert exc.body["param"] == param and exc.body["code"] == "unsupported_parameter"  # type: ignore[index]


DEFAULTS: list[tuple[str, Any]] = [
    ("tools", []),
    ("tool_choice", "auto"),
    ("tool_choice", "none"),
    ("parallel_tool_calls", True),
    ("text", {"format": {"type": "text"}}),
    ("service_tier", "auto"),
    ("truncation", "auto"),
    ("truncation", "disabled"),
    ("background", False),
    ("include", []),
    ("top_logprobs", 0),
    ("reasoning", None),
    ("stream_options", {"include_obfuscation": False}),
]


@pytest.mark.parametrize(("field", "value"), DEFAULTS, ids=[f"{f}={v!r}" for f, v in DEFAULTS])
async def test_an_unsupported_parameter_at_its_default_is_accepted(
    client: Client, field: str, value: Any
) -> None:
    response = await call(client.responses.create(model="echo", input="fine", **{field: value}))
    assert response.output_text == "fine"


async def test_conversation_with_previous_response_id_is_400_as_openai_answers(client: Client) -> None:
    first = await say(client, "x")
    conversation = await call(client.conversations.create())
    exc = await raises(
        lambda: client.responses.create(
            model="echo", input="y", conversation=conversation.id, previous_response_id=first.id
        ),
        openai.BadRequestError,
        400,
    )
    assert exc.body["param"] == "previous_response_id"  # type: ignore[index]
    assert "Mutually exclusive" in exc.body["message"]  # type: ignore[index]


@store_independent
async def test_a_malformed_body_is_422_naming_the_field(client: Client) -> None:
    exc = await raises(
        lambda: client.responses.create(model="echo", input="x", temperature="hot"),  # type: ignore[arg-type]
        openai.UnprocessableEntityError,
        422,
    )
    assert exc.body["param"] == "temperature" and exc.body["code"] == "validation_error"  # type: ignore[index]
    exc = await raises(
        lambda: client.responses.create(model="echo", input=[{"role": "robot", "content": "x"}]),  # type: ignore[list-item]
        openai.UnprocessableEntityError,
        422,
    )
    assert exc.body["param"] == "input[0].role"  # type: ignore[index]
    exc = await raises(
        lambda: client.responses.create(
            model="echo", input=[{"role": "user", "content": [{"type": "input_text"}]}]
        ),  # type: ignore[list-item,typeddict-item]
        openai.UnprocessableEntityError,
        422,
    )
    assert exc.body["param"] == "input[0].content[0]"  # type: ignore[index]


@store_independent
async def test_a_parameter_openai_does_not_have_is_422(client: Client) -> None:
    await raises(
        lambda: client.responses.create(model="echo", input="x", extra_body={"inputs": []}),
        openai.UnprocessableEntityError,
        422,
    )


async def test_an_unknown_model_is_404(client: Client) -> None:
    exc = await raises(
        lambda: client.responses.create(model="no-such-model", input="x"), openai.NotFoundError, 404
    )
    assert exc.body["code"] == "model_not_found"  # type: ignore[index]


async def test_a_query_parameter_the_route_does_not_know_is_422_in_openais_envelope(
    http: httpx.AsyncClient,
) -> None:
    r = await http.get("/v1/conversations/conv_x/items", params={"limt": "5"})
    assert r.status_code == 422
    assert error_shape(r.json())["code"] == "validation_error"


@store_independent
async def test_paths_and_methods_outside_the_routes_answer_in_openais_envelope(
    http: httpx.AsyncClient,
) -> None:
    for method, path, status in [
        ("GET", "/v1/responses/resp_x/unknown/deeper", 404),
        ("GET", "/v1/conversations/c/items/i/more", 404),
        ("PUT", "/v1/responses", 405),
        ("PATCH", "/v1/conversations/conv_x", 405),
    ]:
        r = await http.request(method, path)
        assert r.status_code == status, (method, path, r.text)
        error_shape(r.json())
    assert "allow" in {k.lower() for k in r.headers}


async def test_the_freddy_door_keeps_its_own_envelope_beside_this_one(http: httpx.AsyncClient) -> None:
    freddy = await http.get("/v1/threads/nope")
    assert freddy.status_code == 404 and freddy.json()["success"] is False
    assert freddy.json()["error"]["code"] == "THREAD_NOT_FOUND"
    ours = await http.get("/v1/conversations/nope")
    assert ours.status_code == 404 and error_shape(ours.json())["code"] == "thread_not_found"
    assert "success" not in ours.json()


@store_independent
async def test_a_body_over_the_limit_is_413_in_openais_envelope(http: httpx.AsyncClient) -> None:
    r = await http.post("/v1/responses", json={"model": "echo", "input": "x" * 1_100_000})
    assert r.status_code == 413
    assert error_shape(r.json())["code"] == "payload_too_large"


async def test_the_fast_path_and_the_framework_route_answer_alike(http: httpx.AsyncClient) -> None:
    # A query string sends the request past the fast path to the framework route.
    for body in (
        {"model": "echo", "input": "same"},
        {"model": "echo", "input": "x", "tools": [{"type": "web_search"}]},
        {"model": "echo", "input": "x", "conversation": "conv_absent"},
    ):
        fast = await http.post("/v1/responses", json=body)
        routed = await http.post("/v1/responses", params={"organization_id": "org_alpha"}, json=body)
        assert fast.status_code == routed.status_code, (fast.text, routed.text)
        one, two = fast.json(), routed.json()
        if fast.status_code == 200:
            for answer in (one, two):
                answer.pop("id"), answer.pop("created_at"), answer.pop("completed_at"), answer.pop("output")
        assert one == two
        assert fast.headers["x-request-id"] and routed.headers["x-request-id"]
    other = await http.post(
        "/v1/responses", params={"organization_id": "org_beta"}, json={"model": "echo", "input": "x"}
    )
    assert other.status_code == 403 and error_shape(other.json())["code"] == "organization_access_denied"
