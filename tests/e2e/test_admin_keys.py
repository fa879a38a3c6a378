"""The admin API (SPEC §15): keys created, listed and revoked over HTTP behind GATEWAY_ADMIN_KEY, used
on the native and OpenAI doors, on the embedded store and (GATEWAY_TEST_BACKEND=mongodb) MongoDB."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from openapi_spec_validator import validate

from gateway.settings import SettingsError, load_settings
from tests.conftest import _SERVICES, BACKEND, KEY_A, KEY_B, make_settings, running, store_independent, user
from tests.gateway_process import start_gateway

ADMIN = "adm_test_" + "k" * 32
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}


def error_of(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert body["error"]["status"] == status
    assert body["error"]["trace_id"] == r.headers["x-request-id"]
    return body


async def create(client: AsyncTestClient[Any], body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post("/admin/keys", json=body, headers=AS_ADMIN)
    assert r.status_code == 201, r.text
    made: dict[str, Any] = r.json()
    return made


TURN = "/v1/model/response"


def native_turn(key: str, text: str, thread: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "echo", "inputs": [user(text)]}
    if thread is not None:
        body["thread"] = thread
    return {"json": body, "headers": {"X-API-Key": key}}


async def test_a_key_made_by_the_admin_api_works_on_the_native_and_openai_doors(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path, admin_key=ADMIN)) as client:
        r = await client.post(
            "/admin/keys", json={"organizationId": "org_admin", "name": "ci"}, headers=AS_ADMIN
        )
        assert r.status_code == 201, r.text
        assert r.headers["cache-control"] == "no-store"
        made = r.json()
        assert made["object"] == "api_key"
        assert (made["organization_id"], made["name"], made["revoked_at"], made["last_used_at"]) == (
            "org_admin",
            "ci",
            None,
            None,
        )
        assert made["id"].startswith("key_") and made["created_at"].endswith("Z")
        key = made["key"]
        assert key.startswith("gwk_") and len(key) > 40

        tid = f"t_{uuid.uuid4().hex[:10]}"
        turn = await client.post(TURN, **native_turn(key, "hello admin", tid))
        assert turn.status_code == 200, turn.text
        assert turn.json()["thread_id"] == tid
        assert "hello admin" in turn.text
        # The thread is the key's organization's: another organization does not see it.
        mine = await client.get(f"/v1/threads/{tid}", headers={"X-API-Key": key})
        assert mine.status_code == 200 and mine.json()["organization_id"] == "org_admin"
        error_of(
            await client.get(f"/v1/threads/{tid}", headers={"X-API-Key": KEY_A}), 404, "THREAD_NOT_FOUND"
        )

        answer = await client.post(
            "/v1/responses",
            json={"model": "echo", "input": "through the openai door"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["output"][0]["content"][0]["text"] == "through the openai door"

        # `organization_id` is the same field as `organizationId`.
        snake = await create(client, {"organization_id": "org_snake"})
        assert snake["organization_id"] == "org_snake" and snake["name"] is None
        threads = await client.get("/v1/threads", headers={"X-API-Key": snake["key"]})
        assert threads.status_code == 200 and threads.json()["data"] == []


async def test_the_list_shows_every_record_and_never_a_key(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path, admin_key=ADMIN)) as client:
        one = await create(client, {"organizationId": "org_one", "name": "first"})
        two = await create(client, {"organizationId": "org_two"})
        r = await client.get("/admin/keys", headers=AS_ADMIN)
        assert r.status_code == 200, r.text
        listed = r.json()
        assert listed["object"] == "list"
        assert [k["id"] for k in listed["data"]] == [one["id"], two["id"]]
        for shown, made in zip(listed["data"], (one, two), strict=True):
            assert shown == {f: v for f, v in made.items() if f != "key"}
        assert one["key"] not in r.text and two["key"] not in r.text

        for query in ("organizationId", "organization_id"):
            only = await client.get(f"/admin/keys?{query}=org_two", headers=AS_ADMIN)
            assert [k["id"] for k in only.json()["data"]] == [two["id"]]
        none = await client.get("/admin/keys", params={"organizationId": "org_none"}, headers=AS_ADMIN)
        assert none.json()["data"] == []

        # A key used is listed with when (written off the request path, by the snapshot's refresh).
        assert (await client.post(TURN, **native_turn(two["key"], "in use"))).status_code == 200
        deadline = time.monotonic() + 10
        used: dict[str, Any] = {}
        while time.monotonic() < deadline:
            used = {k["id"]: k for k in (await client.get("/admin/keys", headers=AS_ADMIN)).json()["data"]}
            if used[two["id"]]["last_used_at"] is not None:
                break
        assert used[two["id"]]["last_used_at"] >= two["created_at"]
        assert used[one["id"]]["last_used_at"] is None

        assert (await client.delete(f"/admin/keys/{one['id']}", headers=AS_ADMIN)).status_code == 204
        after = {k["id"]: k for k in (await client.get("/admin/keys", headers=AS_ADMIN)).json()["data"]}
        assert after[one["id"]]["revoked_at"] is not None
        assert after[two["id"]]["revoked_at"] is None


async def test_a_revoked_key_answers_401_and_revoking_again_is_no_error(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path, admin_key=ADMIN)) as client:
        made = await create(client, {"organizationId": "org_rev"})
        assert (await client.post(TURN, **native_turn(made["key"], "before"))).status_code == 200
        r = await client.delete(f"/admin/keys/{made['id']}", headers=AS_ADMIN)
        assert r.status_code == 204 and r.content == b""
        # Each worker sees the revocation at its next snapshot refresh: poll, bounded.
        deadline = time.monotonic() + 10
        status = 200
        while status != 401 and time.monotonic() < deadline:
            status = (await client.post(TURN, **native_turn(made["key"], "after"))).status_code
        assert status == 401
        error_of(await client.post(TURN, **native_turn(made["key"], "after")), 401, "INVALID_API_KEY")
        assert (await client.delete(f"/admin/keys/{made['id']}", headers=AS_ADMIN)).status_code == 204
        error_of(await client.delete("/admin/keys/key_unknown", headers=AS_ADMIN), 404, "NOT_FOUND")
        # Environment keys are untouched.
        assert (await client.post(TURN, **native_turn(KEY_A, "still here"))).status_code == 200


@store_independent
async def test_only_the_admin_key_opens_the_admin_api(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path, admin_key=ADMIN)) as client:
        error_of(await client.get("/admin/keys"), 401, "AUTHENTICATION_REQUIRED")
        for headers in (
            {"Authorization": f"Bearer {KEY_A}"},
            {"X-API-Key": KEY_B},
            {"Authorization": f"Bearer {ADMIN}x"},
            {"Authorization": f"Bearer {ADMIN[:-1]}"},
        ):
            error_of(await client.get("/admin/keys", headers=headers), 401, "INVALID_API_KEY")
            refused = await client.post("/admin/keys", json={"organizationId": "org_x"}, headers=headers)
            error_of(refused, 401, "INVALID_API_KEY")
            error_of(await client.delete("/admin/keys/key_x", headers=headers), 401, "INVALID_API_KEY")
        # X-API-Key carries the admin key as it carries any key.
        assert (await client.get("/admin/keys", headers={"X-API-Key": ADMIN})).status_code == 200
        # The admin key is no organization's key.
        error_of(await client.get("/v1/threads", headers=AS_ADMIN), 401, "INVALID_API_KEY")
        refused = await client.post("/v1/responses", json={"model": "echo", "input": "x"}, headers=AS_ADMIN)
        assert refused.status_code == 401
        listed = await client.get("/admin/keys", headers=AS_ADMIN)
        assert listed.json()["data"] == []  # nothing was made by a refused request


@store_independent
async def test_malformed_admin_requests_are_refused_with_nothing_made(tmp_path: Path) -> None:
    bad_bodies: list[Any] = [
        {},
        {"name": "no organization"},
        {"organizationId": ""},
        {"organizationId": "has space"},
        {"organizationId": "x" * 129},
        {"organizationId": 42},
        {"organizationId": "org_a", "name": ""},
        {"organizationId": "org_a", "name": "n" * 201},
        {"organizationId": "org_a", "name": ["list"]},
        {"organizationId": "org_a", "name": "tab\there"},
        {"organizationId": "org_a", "name": "two\nlines"},
        {"organizationId": "org_a", "name": "nul\u0000"},
        {"organizationId": "org_a", "scopes": ["all"]},
        ["organizationId", "org_a"],
        "org_a",
        None,
    ]
    async with running(make_settings(tmp_path, admin_key=ADMIN)) as client:
        for body in bad_bodies:
            r = await client.post("/admin/keys", json=body, headers=AS_ADMIN)
            error_of(r, 422, "VALIDATION_ERROR")
        for raw in (b"{", b"\xff\xfe", b'{"organizationId": "org_a",}'):
            r = await client.post(
                "/admin/keys", content=raw, headers={**AS_ADMIN, "Content-Type": "application/json"}
            )
            error_of(r, 422, "VALIDATION_ERROR")
        both = {"organizationId": "org_a", "organization_id": "org_b"}
        error_of(await client.post("/admin/keys", json=both, headers=AS_ADMIN), 400, "CONFLICTING_PARAMETERS")
        error_of(await client.get("/admin/keys?org=org_a", headers=AS_ADMIN), 422, "VALIDATION_ERROR")
        error_of(
            await client.get("/admin/keys?organizationId=a%20b", headers=AS_ADMIN), 422, "VALIDATION_ERROR"
        )
        error_of(await client.delete("/admin/keys/" + "k" * 300, headers=AS_ADMIN), 404, "NOT_FOUND")
        assert (await client.get("/admin/keys", headers=AS_ADMIN)).json()["data"] == []


@store_independent
async def test_without_an_admin_key_the_admin_api_is_an_unknown_path(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path)) as client:
        unknown = error_of(
            await client.get("/admin/nothing-here", headers={"X-API-Key": KEY_A}), 404, "NOT_FOUND"
        )
        for method, path in (
            ("GET", "/admin/keys"),
            ("POST", "/admin/keys"),
            ("DELETE", "/admin/keys/key_x"),
        ):
            for headers in ({}, {"X-API-Key": KEY_A}, AS_ADMIN):
                r = await client.request(method, path, json={"organizationId": "org_a"}, headers=headers)
                body = error_of(r, 404, "NOT_FOUND")
                assert body["error"]["message"] == unknown["error"]["message"]


@store_independent
def test_an_admin_key_must_be_long_and_no_organization_key() -> None:
    with pytest.raises(SettingsError) as short:
        load_settings({"GATEWAY_ADMIN_KEY": "short-key"})
    assert short.value.mistakes == (
        "GATEWAY_ADMIN_KEY must be at least 24 printable ASCII characters, no spaces",
    )
    with pytest.raises(SettingsError) as shared:
        load_settings({"GATEWAY_ADMIN_KEY": ADMIN, "GATEWAY_API_KEYS": f"{ADMIN}=org_a"})
    assert shared.value.mistakes == (
        "GATEWAY_ADMIN_KEY must not be one of GATEWAY_API_KEYS: an admin key is no organization's",
    )
    assert ADMIN not in repr(load_settings({"GATEWAY_ADMIN_KEY": ADMIN}))


def test_a_revocation_reaches_both_workers_of_a_real_gateway(tmp_path: Path) -> None:
    env = {"GATEWAY_WORKERS": "2", "GATEWAY_ADMIN_KEY": ADMIN}
    if BACKEND == "mongodb":
        env["GATEWAY_MONGODB_URI"] = _SERVICES["mongodb"]
        env["GATEWAY_MONGODB_DATABASE"] = f"gw_{uuid.uuid4().hex[:12]}"
    log = tmp_path / "gateway.log"
    gateway = start_gateway(tmp_path / "data", log, env)
    try:
        made = httpx.post(
            gateway.url + "/admin/keys", json={"organizationId": "org_proc"}, headers=AS_ADMIN, timeout=10
        )
        assert made.status_code == 201, made.text
        key, key_id = made.json()["key"], made.json()["id"]
        # A new connection each time, so that the requests spread over both workers.
        for i in range(6):
            r = httpx.post(gateway.url + TURN, timeout=10, **native_turn(key, f"turn {i}"))
            assert r.status_code == 200, r.text
            assert f"turn {i}" in r.text
            o = httpx.post(
                gateway.url + "/v1/responses",
                json={"model": "echo", "input": f"openai {i}"},
                headers={"Authorization": f"Bearer {key}"},
                timeout=10,
            )
            assert o.status_code == 200, o.text
        revoked = httpx.delete(f"{gateway.url}/admin/keys/{key_id}", headers=AS_ADMIN, timeout=10)
        assert revoked.status_code == 204
        # Twelve 401s in a row over new connections: neither worker still takes the key.
        deadline = time.monotonic() + 10
        in_a_row = 0
        while in_a_row < 12 and time.monotonic() < deadline:
            r = httpx.post(gateway.url + TURN, timeout=10, **native_turn(key, "after"))
            in_a_row = in_a_row + 1 if r.status_code == 401 else 0
        assert in_a_row == 12, "the revoked key still answered"
        listed = httpx.get(gateway.url + "/admin/keys", headers=AS_ADMIN, timeout=10)
        assert [(k["id"], k["revoked_at"] is not None) for k in listed.json()["data"]] == [(key_id, True)]
    finally:
        gateway.stop()
    text = log.read_text()
    assert key not in text and ADMIN not in text


@store_independent
async def test_the_openapi_document_has_the_admin_routes_only_when_they_are_served(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path, admin_key=ADMIN)) as client:
        doc = (await client.get("/schema/openapi.json")).json()
    validate(doc)
    envelope = "#/components/schemas/ErrorEnvelope"
    statuses = {
        ("post", "/admin/keys"): {"201", "400", "401", "422"},
        ("get", "/admin/keys"): {"200", "401", "422"},
        ("delete", "/admin/keys/{key_id}"): {"204", "401", "404"},
    }
    for (method, path), wanted in statuses.items():
        op = doc["paths"][path][method]
        assert wanted <= set(op["responses"]), (method, path, sorted(op["responses"]))
        assert op["responses"]["401"]["content"]["application/json"]["schema"] == {"$ref": envelope}
    assert doc["components"]["schemas"]["KeyCreate"]["additionalProperties"] is False
    async with running(make_settings(tmp_path / "plain")) as client:
        plain = (await client.get("/schema/openapi.json")).json()
    assert not [p for p in plain["paths"] if p.startswith("/admin")]
