"""SPEC §2 on the OpenAI door: for every route, another organization's response, conversation or
item answers exactly as one that does not exist (404, the same code and message but for the id),
and nothing of it changes or leaks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.openai.helpers import error_shape, thread_texts

# (method, path, body); {rid} {cid} {mid} are organization A's ids, or ids that never existed.
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/responses/{rid}", None),
    ("DELETE", "/v1/responses/{rid}", None),
    ("GET", "/v1/responses/{rid}/input_items", None),
    ("POST", "/v1/responses", {"model": "echo", "input": "x", "previous_response_id": "{rid}"}),
    (
        "POST",
        "/v1/responses",
        {"model": "echo", "input": "x", "previous_response_id": "{rid}", "stream": True},
    ),
    ("POST", "/v1/responses", {"model": "echo", "input": "x", "conversation": "{cid}"}),
    (
        "POST",
        "/v1/responses",
        {"model": "echo", "input": "x", "conversation": {"id": "{cid}"}, "stream": True},
    ),
    ("POST", "/v1/responses", {"model": "echo", "input": "x", "conversation": "{cid}", "store": False}),
    ("GET", "/v1/conversations/{cid}", None),
    ("POST", "/v1/conversations/{cid}", {"metadata": {"taken": "over"}}),
    ("DELETE", "/v1/conversations/{cid}", None),
    ("GET", "/v1/conversations/{cid}/items", None),
    ("POST", "/v1/conversations/{cid}/items", {"items": [{"role": "user", "content": "intruder"}]}),
    ("GET", "/v1/conversations/{cid}/items/{mid}", None),
    ("DELETE", "/v1/conversations/{cid}/items/{mid}", None),
]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, v in ids.items():
            value = value.replace("{" + name + "}", v)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.fixture
async def a_objects(http: httpx.AsyncClient) -> dict[str, str]:
    """Organization A's conversation with an item and a response in it."""
    conversation = (
        await http.post(
            "/v1/conversations",
            json={"metadata": {"owner": "a"}, "items": [{"role": "user", "content": "secret"}]},
        )
    ).json()
    response = (
        await http.post(
            "/v1/responses", json={"model": "echo", "input": "more", "conversation": conversation["id"]}
        )
    ).json()
    items = (await http.get(f"/v1/conversations/{conversation['id']}/items")).json()["data"]
    return {"rid": response["id"], "cid": conversation["id"], "mid": items[-1]["id"]}


def _same_but_ids(
    error: dict[str, Any], other: dict[str, Any], theirs: dict[str, str], mine: dict[str, str]
) -> None:
    message = error["message"]
    for name in theirs:
        message = message.replace(theirs[name], mine[name])
    assert {**error, "message": message} == other


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p} {b}"[:80] for m, p, b in ROUTES])
async def test_another_organizations_object_answers_as_a_missing_one(
    http: httpx.AsyncClient,
    http_b: httpx.AsyncClient,
    a_objects: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    missing = {"rid": "resp_000000000000000000000000", "cid": "conv_000000000000000000000000", "mid": "msg_0"}
    before = (await http.get(f"/v1/conversations/{a_objects['cid']}")).json()
    history = await thread_texts(http, a_objects["cid"])
    theirs = await http_b.request(method, _fill(path, a_objects), json=_fill(body, a_objects))
    absent = await http_b.request(method, _fill(path, missing), json=_fill(body, missing))
    assert theirs.status_code == absent.status_code == 404, (theirs.text, absent.text)
    assert theirs.headers["content-type"].startswith("application/json")
    _same_but_ids(error_shape(theirs.json()), error_shape(absent.json()), a_objects, missing)
    # Organization A's objects are as they were.
    assert (await http.get(f"/v1/conversations/{a_objects['cid']}")).json() == before
    assert await thread_texts(http, a_objects["cid"]) == history
    assert (await http.get(f"/v1/responses/{a_objects['rid']}")).status_code == 200


async def test_another_organizations_conversations_never_show_in_its_lists(
    http: httpx.AsyncClient, http_b: httpx.AsyncClient, a_objects: dict[str, str]
) -> None:
    listed = (await http_b.get("/v1/threads", params={"limit": 100})).json()["data"]
    assert a_objects["cid"] not in [t["id"] for t in listed]
    made = (await http_b.post("/v1/conversations", json={})).json()
    assert (await http.get(f"/v1/conversations/{made['id']}")).status_code == 404
