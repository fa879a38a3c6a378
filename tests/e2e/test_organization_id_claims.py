"""SPEC §2: an `organization_id` in a request must be the key's own; any other is a 403 that creates
or saves nothing."""

from __future__ import annotations

import pytest

from tests.conftest import ORG_A, ORG_B, Api, err, ok, uid
from tests.e2e.tenancy_helpers import a_thread_with_history, assert_untouched

# -- organization_id in the request -----------------------------------------------------------------


async def test_organization_id_equal_to_key_org_is_accepted_on_turn_and_create(a: Api, b: Api) -> None:
    turn = ok(await a.say("hi", organization_id=ORG_A))
    assert ok(await a.thread(turn["thread_id"]))["organization_id"] == ORG_A
    created = await b.post("/v1/threads", json={"organization_id": ORG_B})
    assert created.status_code == 201, created.text
    assert created.json()["organization_id"] == ORG_B


@pytest.mark.parametrize("claimed", [ORG_B, "org_unknown", ORG_A.upper(), ORG_A + " "])
@pytest.mark.parametrize("stream", [False, True])
async def test_turn_with_another_organization_id_is_403_and_creates_nothing(
    a: Api, b: Api, claimed: str, stream: bool
) -> None:
    tid = uid()
    r = await a.say("hi", thread=tid, organization_id=claimed, stream=stream)
    e = err(r, 403, "ORGANIZATION_ACCESS_DENIED")
    assert e["type"] == "permission_error"
    err(await a.thread(tid), 404, "THREAD_NOT_FOUND")
    err(await b.thread(tid), 404, "THREAD_NOT_FOUND")
    for api in (a, b):
        for visible in ("true", "false"):
            assert ok(await api.get("/v1/threads", params={"visible_in_ui": visible}))["data"] == []
    # The id was not tombstoned either: a proper turn may still create it.
    assert ok(await a.say("now", thread=tid))["thread_id"] == tid


async def test_turn_with_another_organization_id_on_existing_thread_is_403_and_saves_nothing(
    a: Api,
) -> None:
    tid = await a_thread_with_history(a)
    before = ok(await a.thread(tid))
    err(await a.say("intruder", thread=tid, organization_id=ORG_B), 403, "ORGANIZATION_ACCESS_DENIED")
    await assert_untouched(a, tid, before)


async def test_previous_response_with_another_organization_id_is_403(a: Api) -> None:
    resp = ok(await a.say("hi"))
    r = await a.say("next", previousResponseId=resp["id"], organization_id=ORG_B)
    err(r, 403, "ORGANIZATION_ACCESS_DENIED")


async def test_create_thread_with_another_organization_id_is_403_and_creates_nothing(a: Api, b: Api) -> None:
    tid = uid()
    r = await a.post("/v1/threads", json={"id": tid, "organization_id": ORG_B})
    err(r, 403, "ORGANIZATION_ACCESS_DENIED")
    err(await a.thread(tid), 404, "THREAD_NOT_FOUND")
    err(await b.thread(tid), 404, "THREAD_NOT_FOUND")
    assert ok(await a.get("/v1/threads"))["data"] == []
    assert ok(await b.get("/v1/threads"))["data"] == []
    assert (await a.post("/v1/threads", json={"id": tid})).status_code == 201


async def test_list_threads_with_organization_id_query(a: Api) -> None:
    tid = ok(await a.say("hi"))["thread_id"]
    page = ok(await a.get("/v1/threads", params={"organization_id": ORG_A}))
    assert [t["id"] for t in page["data"]] == [tid]
    r = await a.get("/v1/threads", params={"organization_id": ORG_B})
    err(r, 403, "ORGANIZATION_ACCESS_DENIED")
    assert tid not in r.text
