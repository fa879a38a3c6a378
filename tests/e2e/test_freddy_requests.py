"""SPEC §10, the turn's request: Freddy's aliases, content blocks, and the policy for Freddy fields
the gateway does not implement (accepted at their defaults, else 400 naming them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from providers.base import Completion, ModelRequest
from providers.echo import EchoProvider
from tests.conftest import KEY_A, ORG_A, ORG_B, Api, err, make_settings, ok, running, sse_events, uid, user

TURN = "/v1/model/response"


class Recording(EchoProvider):
    """Echo that keeps the requests it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[ModelRequest] = []

    async def complete(self, request: ModelRequest) -> Completion:
        self.requests.append(request)
        return await super().complete(request)


@pytest.fixture
async def rec(tmp_path: Path) -> AsyncIterator[tuple[Api, Recording]]:
    provider = Recording()
    async with running(make_settings(tmp_path), providers={"echo": provider}) as client:
        yield Api(client, KEY_A), provider


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "echo", "inputs": [user("hi")], **fields}


async def test_thread_id_in_camel_case_continues_the_thread(a: Api) -> None:
    tid = uid()
    ok(await a.post(TURN, json=body(threadId=tid)))
    second = ok(await a.post(TURN, json={"model": "echo", "threadId": tid, "inputs": [user("again")]}))
    assert second["thread_id"] == tid and second["output_text"].splitlines() == ["hi", "again"]


async def test_aliases_that_differ_are_conflicting(a: Api) -> None:
    err(await a.post(TURN, json=body(thread_id="a1", threadId="b1")), 400, "CONFLICTING_PARAMETERS")
    err(await a.post(TURN, json=body(thread="a1", threadId="b1")), 400, "CONFLICTING_PARAMETERS")
    err(await a.post(TURN, json=body(maxTokens=5, max_output_tokens=6)), 400, "CONFLICTING_PARAMETERS")
    # The same value under both names is one request.
    assert ok(await a.post(TURN, json=body(thread_id="same1", threadId="same1")))["thread_id"] == "same1"


async def test_organization_id_in_camel_case_is_checked(a: Api) -> None:
    ok(await a.post(TURN, json=body(organizationId=ORG_A)))
    err(await a.post(TURN, json=body(organizationId=ORG_B)), 403, "ORGANIZATION_ACCESS_DENIED")


async def test_previous_response_id_in_snake_case_chains(a: Api) -> None:
    first = ok(await a.say("one"))
    chained = ok(await a.post(TURN, json=body(previous_response_id=first["id"])))
    assert chained["previous_response_id"] == first["id"] and chained["thread_id"] is None
    assert chained["output_text"].splitlines() == ["one", "hi"]
    err(
        await a.post(TURN, json=body(previous_response_id=first["id"], thread_id="x1")),
        400,
        "CONFLICTING_PARAMETERS",
    )


@pytest.mark.parametrize("name", ["max_output_tokens", "maxTokens", "max_output_synapses"])
async def test_every_name_of_the_output_limit_reaches_the_provider(
    rec: tuple[Api, Recording], name: str
) -> None:
    a, provider = rec
    ok(await a.post(TURN, json=body(**{name: 17})))
    assert provider.requests[-1].max_output_tokens == 17


async def test_content_blocks_and_status_are_inputs(rec: tuple[Api, Recording]) -> None:
    a, provider = rec
    item = {
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_text", "text": "first"}, {"type": "text", "text": "second"}],
    }
    answer = ok(await a.post(TURN, json={"model": "echo", "inputs": [item]}))
    assert provider.requests[-1].messages[-1].texts == ("first", "second")
    assert answer["output_text"] == "first\nsecond"


async def test_an_output_item_with_its_content_blocks_goes_back_as_an_input(a: Api) -> None:
    first = ok(await a.say("hello"))
    [item] = first["output"]
    answer = ok(await a.post(TURN, json={"model": "echo", "inputs": [item, user("next")]}))
    assert answer["output_text"] == "next"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("tools", []),
        ("tools", None),
        ("system_tools", {}),
        ("files", []),
        ("vector_store_ids", []),
        ("space_id", None),
        ("workflow_id", ""),
        ("reasoning", None),
        ("include", []),
        ("output_mode", "text"),
        ("disable_rules", False),
        ("metadata", {}),
    ],
)
async def test_unimplemented_fields_are_accepted_at_their_defaults(a: Api, name: str, value: Any) -> None:
    assert ok(await a.post(TURN, json=body(**{name: value})))["output_text"] == "hi"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("tools", [{"type": "function", "name": "f"}]),
        ("system_tools", {"web_search": {"mode": "on"}}),
        ("vector_store_ids", ["vs_1"]),
        ("space_id", "space_1"),
        ("reasoning", {"effort": "high"}),
        ("include", ["usage.detailed"]),
        ("output_mode", "plain"),
        ("disable_rules", True),
        ("edit_message_id", "msg_1"),
        ("metadata", {"k": "v"}),
    ],
)
async def test_unimplemented_fields_set_otherwise_are_refused_by_name(a: Api, name: str, value: Any) -> None:
    tid = uid()
    error = err(await a.post(TURN, json=body(thread=tid, **{name: value})), 400, "UNSUPPORTED_PARAMETER")
    assert error["details"] == {"parameter": name} and f"`{name}`" in error["message"]
    err(await a.thread(tid), 404, "THREAD_NOT_FOUND")  # nothing was half-served


async def test_truly_unknown_fields_stay_422(a: Api) -> None:
    err(await a.post(TURN, json=body(frequency_penalty=0.5)), 422, "VALIDATION_ERROR")


async def test_an_unknown_query_parameter_is_refused(client: AsyncTestClient[Any]) -> None:
    a = Api(client, KEY_A)
    for url in (f"{TURN}?stream=true", "/v1/threads?sort=asc", "/v1/threads/x/messages?page=2"):
        r = await a.request("POST" if url.startswith(TURN) else "GET", url, json=body())
        error = err(r, 422, "VALIDATION_ERROR")
        assert "not known" in error["message"]
    # The name of a handler's injected dependency is no query parameter either.
    error = err(await a.get("/v1/threads?services=x"), 422, "VALIDATION_ERROR")
    assert error["details"]["unknown"] == ["services"] and "services" not in error["details"]["known"]


async def test_a_stream_ends_with_done(a: Api) -> None:
    r = await a.post(TURN, json=body(stream=True))
    assert r.text.rstrip().endswith("data: [DONE]")
    assert sse_events(r.text)[-1][0] == "response.completed"
