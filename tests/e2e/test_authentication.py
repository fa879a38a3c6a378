"""SPEC §2: every /v1 route needs a key (X-API-Key or Bearer), a missing, unknown or look-alike key
is a 401 that does nothing, and health and schema need none."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import KEY_A, KEY_B, ORG_A, ORG_B, Api, err, ok, store_independent, uid, user
from tests.e2e.tenancy_helpers import a_thread_with_history, assert_untouched

# (method, path, json body) for every /v1 route; `{tid}` is filled with a thread id.
V1_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/v1/model/response", {"model": "echo", "inputs": [user("hi")]}),
    ("POST", "/v1/threads", {"metadata": {"k": "v"}}),
    ("GET", "/v1/threads", None),
    ("GET", "/v1/threads/{tid}", None),
    ("PATCH", "/v1/threads/{tid}", {"metadata": {"k": "v"}}),
    ("DELETE", "/v1/threads/{tid}", None),
    ("GET", "/v1/threads/{tid}/messages", None),
]
ROUTE_IDS = [f"{m} {p}" for m, p, _ in V1_ROUTES]


async def _call(
    client: AsyncTestClient[Any], method: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]
) -> httpx.Response:
    kw: dict[str, Any] = {"headers": headers}
    if body is not None:
        kw["json"] = body
    return await client.request(method, path, **kw)


# -- authentication ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), V1_ROUTES, ids=ROUTE_IDS)
@store_independent
async def test_every_v1_route_without_a_key_answers_401_authentication_required(
    client: AsyncTestClient[Any], a: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    tid = await a_thread_with_history(a)
    before = ok(await a.thread(tid))
    r = await _call(client, method, path.format(tid=tid), body, {})
    e = err(r, 401, "AUTHENTICATION_REQUIRED")
    assert e["type"] == "authentication_error"
    # Nothing was done on the caller's behalf.
    await assert_untouched(a, tid, before)
    listing = ok(await a.get("/v1/threads"))
    assert [t["id"] for t in listing["data"]] == [tid]


@pytest.mark.parametrize(("method", "path", "body"), V1_ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": "ak_test_unknown_000000000"},
        {"Authorization": "Bearer ak_test_unknown_000000000"},
    ],
    ids=["x-api-key", "bearer"],
)
@store_independent
async def test_every_v1_route_with_an_unknown_key_answers_401_invalid_api_key(
    client: AsyncTestClient[Any],
    a: Api,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
) -> None:
    tid = await a_thread_with_history(a)
    before = ok(await a.thread(tid))
    r = await _call(client, method, path.format(tid=tid), body, headers)
    e = err(r, 401, "INVALID_API_KEY")
    assert e["type"] == "authentication_error"
    await assert_untouched(a, tid, before)
    assert [t["id"] for t in ok(await a.get("/v1/threads"))["data"]] == [tid]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": KEY_A[:-1]},
        {"X-API-Key": KEY_A + "0"},
        {"X-API-Key": "0" + KEY_A},
        {"Authorization": f"Bearer {KEY_A.upper()}"},
        {"Authorization": f"Bearer {KEY_B[1:]}"},
    ],
    ids=["prefix-of-real", "real-plus-suffix", "real-with-prefix", "case-changed", "bearer-suffix-of-real"],
)
@store_independent
async def test_a_key_that_merely_resembles_a_real_one_is_invalid(
    client: AsyncTestClient[Any], headers: dict[str, str]
) -> None:
    err(await client.get("/v1/threads", headers=headers), 401, "INVALID_API_KEY")
    err(await client.post("/v1/threads", json={}, headers=headers), 401, "INVALID_API_KEY")


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": ""},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {KEY_A}"},
        {"Authorization": KEY_A},
        {"X-Api-Token": KEY_A},
    ],
    ids=["empty-x-api-key", "empty-bearer", "bearer-no-token", "basic-scheme", "no-scheme", "other-header"],
)
@store_independent
async def test_a_key_in_no_accepted_form_is_refused_401(
    client: AsyncTestClient[Any], headers: dict[str, str]
) -> None:
    r = await client.get("/v1/threads", headers=headers)
    err(r, 401, "AUTHENTICATION_REQUIRED")


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": KEY_A},
        {"Authorization": f"Bearer {KEY_A}"},
        {"Authorization": f"bearer {KEY_A}"},
        {"Authorization": f"BEARER {KEY_A}"},
    ],
    ids=["x-api-key", "bearer", "bearer-lowercase", "bearer-uppercase"],
)
async def test_x_api_key_and_bearer_both_authenticate_as_the_same_organization(
    client: AsyncTestClient[Any], headers: dict[str, str]
) -> None:
    tid = uid()
    created = await client.post("/v1/threads", json={"id": tid}, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["organization_id"] == ORG_A
    # The other header form sees the same organization's thread.
    via_x = ok(await client.get(f"/v1/threads/{tid}", headers={"X-API-Key": KEY_A}))
    via_bearer = ok(await client.get(f"/v1/threads/{tid}", headers={"Authorization": f"Bearer {KEY_A}"}))
    assert via_x == via_bearer
    assert via_x["organization_id"] == ORG_A
    # ...and a turn through it works.
    turn = ok(
        await client.post(
            "/v1/model/response",
            json={"model": "echo", "inputs": [user("hello")], "thread": tid},
            headers=headers,
        )
    )
    assert turn["thread_id"] == tid
    assert turn["output_text"] == "hello"


async def test_bearer_key_of_org_b_acts_as_org_b(client: AsyncTestClient[Any]) -> None:
    created = await client.post("/v1/threads", json={}, headers={"Authorization": f"Bearer {KEY_B}"})
    assert created.status_code == 201, created.text
    assert created.json()["organization_id"] == ORG_B
    r = await client.get(f"/v1/threads/{created.json()['id']}", headers={"X-API-Key": KEY_A})
    err(r, 404, "THREAD_NOT_FOUND")


@pytest.mark.parametrize("path", ["/health", "/health/ready", "/schema/openapi.json"])
async def test_health_and_schema_need_no_key(client: AsyncTestClient[Any], path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["x-request-id"]
