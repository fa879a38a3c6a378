"""Defects found by probing the running gateway (issue 10, item 5), each with the one answer the
contract requires: 405 names the allowed methods, `OPTIONS` names all of them, `after` must be an
item of the list it pages, ids of dots only are refused, a repeated query parameter is refused, and
metadata nests at most 32 levels."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ORG_A, ORG_B, Api, err, ok, store_independent, uid


@store_independent
async def test_405_names_the_methods_the_resource_has(a: Api) -> None:
    r = await a.request("PUT", "/v1/threads")
    err(r, 405, "METHOD_NOT_ALLOWED")
    assert set(r.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST", "DELETE", "OPTIONS"}
    r = await a.request("DELETE", "/v1/model/response")
    err(r, 405, "METHOD_NOT_ALLOWED")
    assert set(r.headers["allow"].replace(" ", "").split(",")) == {"POST", "OPTIONS"}


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/v1/threads", {"GET", "POST", "DELETE", "OPTIONS"}),
        ("/v1/threads/t_x", {"GET", "PATCH", "DELETE", "OPTIONS"}),
        ("/v1/threads/t_x/messages", {"GET", "OPTIONS"}),
        ("/v1/model/response", {"POST", "OPTIONS"}),
    ],
)
@store_independent
async def test_options_names_every_method_of_the_route(a: Api, path: str, methods: set[str]) -> None:
    r = await a.request("OPTIONS", path)
    assert r.status_code == 204, r.text
    assert set(r.headers["allow"].replace(" ", "").split(",")) == methods
    assert r.headers["x-request-id"]


async def test_after_must_name_an_item_of_the_same_list(a: Api) -> None:
    visible = (await a.post("/v1/threads", json={"id": uid("vis")})).json()["id"]
    hidden = (await a.post("/v1/threads", json={"id": uid("hid"), "visible_in_ui": False})).json()["id"]
    locked = (await a.post("/v1/threads", json={"id": uid("lock")})).json()["id"]
    ok(await a.patch(f"/v1/threads/{locked}", json={"state": "locked"}))
    # A hidden thread is no item of the visible list, nor a visible one of the hidden list.
    err(await a.get("/v1/threads", params={"after": hidden}), 422, "VALIDATION_ERROR")
    err(
        await a.get("/v1/threads", params={"after": visible, "visible_in_ui": "false"}),
        422,
        "VALIDATION_ERROR",
    )
    # An open thread is no item of the list of locked ones.
    err(await a.get("/v1/threads", params={"after": visible, "state": "locked"}), 422, "VALIDATION_ERROR")
    # Items of their own lists are fine.
    ok(await a.get("/v1/threads", params={"after": visible}))
    ok(await a.get("/v1/threads", params={"after": hidden, "visible_in_ui": "false"}))
    ok(await a.get("/v1/threads", params={"after": locked, "state": "locked"}))


@pytest.mark.parametrize("tid", [".", "..", "...", "." * 128])
@store_independent
async def test_ids_of_dots_only_are_refused(a: Api, tid: str) -> None:
    err(await a.post("/v1/threads", json={"id": tid}), 422, "VALIDATION_ERROR")
    err(await a.say("hi", thread=tid), 422, "VALIDATION_ERROR")
    err(await a.say("hi", thread={"id": tid}), 422, "VALIDATION_ERROR")
    err(await a.say("hi", thread_id=tid), 422, "VALIDATION_ERROR")


async def test_ids_with_dots_and_something_else_still_work(a: Api) -> None:
    for tid in (f".{uid()}", f"{uid()}..", f"a.b.{uid()}"):
        assert ok(await a.say("hi", thread=tid))["thread_id"] == tid
        assert ok(await a.thread(tid))["id"] == tid


@pytest.mark.parametrize(
    "query",
    [
        "limit=1&limit=2",
        f"organization_id={ORG_A}&organization_id={ORG_B}",
        f"organization_id={ORG_A}&organization_id={ORG_A}",
        "state=open&state=locked",
    ],
)
@store_independent
async def test_a_repeated_query_parameter_is_refused(a: Api, query: str) -> None:
    name = query.split("=")[0]
    error = err(await a.get(f"/v1/threads?{query}"), 422, "VALIDATION_ERROR")
    assert name in error["message"]
    error = err(await a.post(f"/v1/model/response?{query}", json={"model": "echo", "inputs": []}), 422)
    assert name in error["message"]


@store_independent
async def test_a_repeated_query_parameter_is_refused_only_after_the_key(a: Api) -> None:
    r = await a.client.get("/v1/threads?limit=1&limit=2")
    err(r, 401, "AUTHENTICATION_REQUIRED")


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for i in range(depth):
        value = {"k": value} if i % 2 else [value]
    return value


@pytest.mark.parametrize("depth", [33, 1000])
async def test_metadata_deeper_than_32_levels_is_refused_everywhere(a: Api, depth: int) -> None:
    meta = {"deep": nested(depth - 1)}  # the metadata object itself is the first level
    tid = uid()
    error = err(await a.post("/v1/threads", json={"id": tid, "metadata": meta}), 422, "VALIDATION_ERROR")
    assert error["details"]["limit"] == 32
    err(await a.say("hi", thread={"id": tid, "metadata": meta}), 422, "VALIDATION_ERROR")
    err(await a.thread(tid), 404, "THREAD_NOT_FOUND")  # nothing was created
    assert (await a.post("/v1/threads", json={"id": tid})).status_code == 201
    err(await a.patch(f"/v1/threads/{tid}", json={"metadata": meta}), 422, "VALIDATION_ERROR")
    assert ok(await a.thread(tid))["metadata"] == {}


async def test_metadata_of_32_levels_is_kept(a: Api) -> None:
    meta = {"deep": nested(31)}
    tid = uid()
    created = await a.post("/v1/threads", json={"id": tid, "metadata": meta})
    assert created.status_code == 201, created.text
    assert ok(await a.thread(tid))["metadata"] == meta
    listed = ok(await a.get("/v1/threads", params={"limit": 100}))
    assert any(t["id"] == tid and t["metadata"] == meta for t in listed["data"])
