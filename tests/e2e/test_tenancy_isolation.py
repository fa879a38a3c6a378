"""SPEC §2: an organization sees only its own objects, and another organization's thread, response
or cursor answers exactly like one that does not exist; the same thread id lives independently in
both."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ORG_A, ORG_B, Api, err, ok, uid
from tests.e2e.tenancy_helpers import a_thread_with_history, assert_untouched

# -- tenancy: another organization's thread is absent -----------------------------------------------


def _same_as_missing(r_other: httpx.Response, r_missing: httpx.Response, tid: str, missing: str) -> None:
    """Status, code, type, message (with the id swapped) and details are identical."""
    assert r_other.status_code == r_missing.status_code, (r_other.text, r_missing.text)
    e_other = err(r_other, r_other.status_code)
    e_missing = err(r_missing, r_missing.status_code)
    assert e_other["code"] == e_missing["code"]
    assert e_other["type"] == e_missing["type"]
    assert e_other["message"] == e_missing["message"].replace(missing, tid)
    assert repr(e_other["details"]) == repr(e_missing["details"]).replace(missing, tid)


THREAD_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/threads/{tid}", None),
    ("GET", "/v1/threads/{tid}/messages", None),
    ("PATCH", "/v1/threads/{tid}", {"metadata": {"owner": "beta"}}),
    ("PATCH", "/v1/threads/{tid}", {"state": "archived"}),
    ("PATCH", "/v1/threads/{tid}", {"state": "open"}),
    ("PATCH", "/v1/threads/{tid}", {"visible_in_ui": False}),
    ("DELETE", "/v1/threads/{tid}", None),
]


@pytest.mark.parametrize("a_state", ["open", "locked", "archived"])
@pytest.mark.parametrize(
    ("method", "path", "body"),
    THREAD_ROUTES,
    ids=[f"{m} {p} {b}" for m, p, b in THREAD_ROUTES],
)
async def test_org_b_on_org_a_thread_answers_exactly_like_a_missing_thread(
    a: Api, b: Api, method: str, path: str, body: dict[str, Any] | None, a_state: str
) -> None:
    tid = await a_thread_with_history(a)
    if a_state != "open":
        ok(await a.patch(f"/v1/threads/{tid}", json={"state": a_state}))
    before = ok(await a.thread(tid))
    missing = uid("shared")  # the same shape and length as `tid`, never used anywhere
    assert len(missing) == len(tid)
    kw: dict[str, Any] = {} if body is None else {"json": body}
    r_other = await b.request(method, path.format(tid=tid), **kw)
    r_missing = await b.request(method, path.format(tid=missing), **kw)
    err(r_missing, 404, "THREAD_NOT_FOUND")
    _same_as_missing(r_other, r_missing, tid, missing)
    # A's thread is exactly as it was, and B got nothing of it.
    await assert_untouched(a, tid, before)
    assert "alpha secret text" not in r_other.text
    # B's own organization gained nothing.
    assert ok(await b.get("/v1/threads"))["data"] == []
    assert ok(await b.get("/v1/threads", params={"visible_in_ui": "false"}))["data"] == []


async def test_org_b_turn_on_org_a_thread_id_never_sees_or_touches_a_thread(a: Api, b: Api) -> None:
    """SPEC §2/§3: ids are per organization, so B's turn on an id A uses answers exactly like B's
    turn on an id never used anywhere (the thread is B's own) and A's thread is untouched."""
    tid = await a_thread_with_history(a)
    before = ok(await a.thread(tid))
    missing = uid("shared")
    r_other = await b.say("beta text", thread=tid)
    r_missing = await b.say("beta text", thread=missing)
    assert r_other.status_code == r_missing.status_code == 200, (r_other.text, r_missing.text)
    # A turn on an unused id creates it (SPEC §3): B gets a thread of its own under that id, not A's.
    other, fresh = r_other.json(), r_missing.json()
    # The model saw only B's message: none of A's history leaked into the context.
    assert other["output_text"] == fresh["output_text"] == "beta text"
    assert other["usage"] == fresh["usage"]
    assert other["thread_id"] == tid
    b_thread = ok(await b.thread(tid))
    assert b_thread["organization_id"] == ORG_B
    assert b_thread["message_count"] == 2
    assert [m["texts"][0]["text"] for m in await b.messages(tid)] == ["beta text", "beta text"]
    assert "alpha secret text" not in r_other.text
    await assert_untouched(a, tid, before)


@pytest.mark.parametrize("form", ["thread", "thread_id", "object"])
async def test_org_b_turn_on_org_a_locked_or_archived_thread_is_not_refused_by_a_state(
    a: Api, b: Api, form: str
) -> None:
    """A's thread state must not leak: B's turn answers as on a never-used id, not 409."""
    for state in ("locked", "archived"):
        tid = await a_thread_with_history(a)
        ok(await a.patch(f"/v1/threads/{tid}", json={"state": state}))
        missing = uid("shared")
        field = {"thread": tid} if form == "thread" else {"thread_id": tid}
        if form == "object":
            field = {"thread": {"id": tid, "metadata": {"who": "beta"}}}
        missing_field = {k: (missing if v == tid else {**v, "id": missing}) for k, v in field.items()}
        r_other = await b.say("beta", **field)
        r_missing = await b.say("beta", **missing_field)
        assert r_other.status_code == r_missing.status_code, (r_other.text, r_missing.text)
        assert r_other.status_code != 409, r_other.text
        assert ok(await a.thread(tid))["state"] == state


async def test_org_b_turn_on_id_deleted_by_org_a_is_not_refused_by_a_tombstone(a: Api, b: Api) -> None:
    tid = await a_thread_with_history(a)
    assert (await a.delete(f"/v1/threads/{tid}")).status_code == 204
    err(await a.say("again", thread=tid), 404, "THREAD_NOT_FOUND")
    missing = uid("shared")
    r_other = await b.say("beta", thread=tid)
    r_missing = await b.say("beta", thread=missing)
    assert r_other.status_code == r_missing.status_code == 200, (r_other.text, r_missing.text)
    assert r_other.json()["output_text"] == "beta"
    created = await b.post("/v1/threads", json={"id": uid("fresh")})
    assert created.status_code == 201
    # A's tombstone is still in force for A.
    err(await a.thread(tid), 404, "THREAD_NOT_FOUND")


@pytest.mark.parametrize("stream", [False, True])
async def test_org_b_cannot_continue_from_org_a_response(a: Api, b: Api, stream: bool) -> None:
    resp = ok(await a.say("alpha secret text"))
    missing = "resp_" + "0" * (len(resp["id"]) - 5)
    r_other = await b.say("beta", previousResponseId=resp["id"], stream=stream)
    r_missing = await b.say("beta", previousResponseId=missing, stream=stream)
    err(r_missing, 404, "RESPONSE_NOT_FOUND")
    _same_as_missing(r_other, r_missing, resp["id"], missing)
    assert "alpha secret text" not in r_other.text
    # A can still use it, and B created nothing.
    assert ok(await a.say("more", previousResponseId=resp["id"]))["output_text"].splitlines() == [
        "alpha secret text",
        "more",
    ]
    assert ok(await b.get("/v1/threads"))["data"] == []
    assert ok(await b.get("/v1/threads", params={"visible_in_ui": "false"}))["data"] == []


async def test_org_b_cannot_continue_from_org_a_response_made_without_thread(a: Api, b: Api) -> None:
    first = ok(await a.say("alpha secret text"))
    chained = ok(await a.say("second", previousResponseId=first["id"]))
    assert chained["thread_id"] is None
    r = await b.say("beta", previousResponseId=chained["id"])
    e = err(r, 404, "RESPONSE_NOT_FOUND")
    assert e["message"] == f"Response '{chained['id']}' was not found."


async def test_org_b_listing_never_shows_org_a_threads(a: Api, b: Api) -> None:
    a_ids = set()
    for i in range(3):
        a_ids.add(ok(await a.say(f"visible {i}"))["thread_id"])
    a_ids.add(ok(await a.say("hidden", store=False))["thread_id"])
    locked = ok(await a.say("locked"))["thread_id"]
    ok(await a.patch(f"/v1/threads/{locked}", json={"state": "locked"}))
    a_ids.add(locked)
    b_id = ok(await b.say("beta"))["thread_id"]

    queries: list[dict[str, Any]] = [
        {},
        {"visible_in_ui": "false"},
        {"visible_in_ui": "true"},
        {"state": "open"},
        {"state": "locked"},
        {"state": "archived"},
        {"limit": 100},
    ]
    for q in queries:
        page = ok(await b.get("/v1/threads", params=q))
        ids = {t["id"] for t in page["data"]}
        assert not ids & a_ids, (q, ids)
        assert all(t["organization_id"] == ORG_B for t in page["data"])
    assert [t["id"] for t in ok(await b.get("/v1/threads"))["data"]] == [b_id]
    # And A still sees all of its own.
    a_seen = {t["id"] for t in ok(await a.get("/v1/threads", params={"limit": 100}))["data"]}
    a_seen |= {t["id"] for t in ok(await a.get("/v1/threads", params={"visible_in_ui": "false"}))["data"]}
    assert a_seen == a_ids


async def test_org_a_thread_id_as_list_cursor_for_org_b_answers_like_an_unknown_cursor(
    a: Api, b: Api
) -> None:
    tid = await a_thread_with_history(a)
    ok(await b.say("beta one"))
    ok(await b.say("beta two"))
    missing = uid("shared")
    r_other = await b.get("/v1/threads", params={"after": tid, "limit": 1})
    r_missing = await b.get("/v1/threads", params={"after": missing, "limit": 1})
    # A cursor naming no item of the caller's list is a bad parameter, whoever's id it is.
    err(r_missing, 422, "VALIDATION_ERROR")
    _same_as_missing(r_other, r_missing, tid, missing)


async def test_org_a_message_id_as_cursor_on_org_b_thread_answers_like_an_unknown_cursor(
    a: Api, b: Api
) -> None:
    tid = await a_thread_with_history(a)
    a_msg = (await a.messages(tid))[0]["id"]
    b_tid = ok(await b.say("beta"))["thread_id"]
    missing = "msg_" + "0" * (len(a_msg) - 4)
    r_other = await b.get(f"/v1/threads/{b_tid}/messages", params={"after": a_msg})
    r_missing = await b.get(f"/v1/threads/{b_tid}/messages", params={"after": missing})
    # A message cursor that names no message of this thread is a bad parameter, like a list cursor.
    err(r_missing, 422, "VALIDATION_ERROR")
    _same_as_missing(r_other, r_missing, a_msg, missing)
    assert "alpha secret text" not in r_other.text


async def test_same_thread_id_lives_independently_in_both_organizations(a: Api, b: Api) -> None:
    tid = uid("same")
    ra = await a.post("/v1/threads", json={"id": tid, "metadata": {"org": "a"}})
    rb = await b.post("/v1/threads", json={"id": tid, "metadata": {"org": "b"}})
    assert ra.status_code == 201, ra.text
    assert rb.status_code == 201, rb.text
    assert ok(await a.say("from alpha", thread=tid))["output_text"] == "from alpha"
    assert ok(await b.say("from beta", thread=tid))["output_text"] == "from beta"
    assert ok(await b.say("beta again", thread=tid))["output_text"] == "from beta\nbeta again"

    ta, tb = ok(await a.thread(tid)), ok(await b.thread(tid))
    assert (ta["organization_id"], ta["metadata"], ta["message_count"]) == (ORG_A, {"org": "a"}, 2)
    assert (tb["organization_id"], tb["metadata"], tb["message_count"]) == (ORG_B, {"org": "b"}, 4)
    assert [m["texts"][0]["text"] for m in await a.messages(tid)] == ["from alpha", "from alpha"]
    assert [m["texts"][0]["text"] for m in await b.messages(tid)] == [
        "from beta",
        "from beta",
        "beta again",
        "from beta\nbeta again",
    ]
    # Changing or deleting one leaves the other alone.
    ok(await a.patch(f"/v1/threads/{tid}", json={"state": "locked", "metadata": {"org": None}}))
    assert ok(await b.thread(tid))["state"] == "open"
    assert ok(await b.thread(tid))["metadata"] == {"org": "b"}
    assert (await a.delete(f"/v1/threads/{tid}")).status_code == 204
    err(await a.thread(tid), 404, "THREAD_NOT_FOUND")
    assert ok(await b.thread(tid))["message_count"] == 4
    assert ok(await b.say("still here", thread=tid))["thread_id"] == tid


async def test_second_create_of_the_same_id_in_the_same_org_conflicts_but_not_across_orgs(
    a: Api, b: Api
) -> None:
    tid = uid("dup")
    assert (await a.post("/v1/threads", json={"id": tid})).status_code == 201
    err(await a.post("/v1/threads", json={"id": tid}), 409, "THREAD_ALREADY_EXISTS")
    assert (await b.post("/v1/threads", json={"id": tid})).status_code == 201
