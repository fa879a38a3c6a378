"""/v1/assistants (SPEC §11): create, list (limit, offset, search), retrieve, update, delete; their
shapes; memory modes in any case; Freddy's unimplemented settings at their defaults only;
unknown query parameters refused; another organization's assistant answers 404 like a missing one."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.conftest import ORG_A, ORG_B, Api, err, ok, uid

A = "/v1/assistants"


async def create(api: Api, **fields: Any) -> dict[str, Any]:
    r = await api.post(A, json={"name": "Helper", **fields})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def put(api: Api, aid: str, **fields: Any) -> httpx.Response:
    return await api.request("PUT", f"{A}/{aid}", json=fields)


async def test_create_answers_201_with_the_assistant_object(a: Api) -> None:
    made = await create(
        a, name="Support", instructions="Be brief.", model="echo", description="d", metadata={"team": "x"}
    )
    assert re.fullmatch(r"asst_[0-9a-f]{24}", made["id"])
    assert made["object"] == "assistant" and made["organization_id"] == ORG_A
    assert (made["name"], made["instructions"], made["model"], made["description"]) == (
        "Support",
        "Be brief.",
        "echo",
        "d",
    )
    assert made["default_model_key"] == "echo" and made["memory"] == "off" and made["memory_enabled"] is False
    assert made["metadata"] == {"team": "x"} and made["created_by"] == ORG_A
    assert isinstance(made["created_at"], int) and made["created_at"] == made["updated_at"]
    assert ok(await a.get(f"{A}/{made['id']}")) == made


async def test_the_sdk_field_names_work_too(a: Api) -> None:
    made = await create(a, default_model_key="echo", memory_enabled=False)
    assert (made["model"], made["memory"]) == ("echo", "off")
    changed = ok(await put(a, made["id"], assistant_metadata={"k": 1}))
    assert changed["metadata"] == {"k": 1}
    conflict = await a.post(A, json={"name": "x", "model": "echo", "default_model_key": "gpt-4.1"})
    err(conflict, 400, "CONFLICTING_PARAMETERS")


async def test_update_replaces_given_fields_clears_with_empty_and_merges_metadata(a: Api) -> None:
    made = await create(a, instructions="Old.", model="echo", metadata={"keep": 1, "drop": 2})
    changed = ok(await put(a, made["id"], name="Renamed", metadata={"drop": None, "new": 3}))
    assert changed["name"] == "Renamed" and changed["instructions"] == "Old." and changed["model"] == "echo"
    assert changed["metadata"] == {"keep": 1, "new": 3}
    assert changed["updated_at"] >= made["updated_at"] and changed["created_at"] == made["created_at"]
    cleared = ok(await put(a, made["id"], instructions="", model=""))
    assert cleared["instructions"] is None and cleared["model"] is None
    assert ok(await a.get(f"{A}/{made['id']}")) == cleared


async def test_list_is_newest_first_with_offset_search_and_the_sdk_shape(a: Api, b: Api) -> None:
    ids = [(await create(a, name=name))["id"] for name in ("Support Bot", "Sales", "support desk")]
    await create(b, name="Support of beta")
    page = ok(await a.get(A))
    assert [x["id"] for x in page["assistants"]] == ids[::-1]
    assert page["total"] == 3 and page["organization_id"] == ORG_A
    assert page["pagination"] == {"total": 3, "limit": 20, "offset": 0, "has_more": False}
    assert page["filters_applied"]["search"] is None and page["user_context"]["user_id"] == ORG_A
    second = ok(await a.get(A, params={"limit": 1, "offset": 1}))
    assert [x["id"] for x in second["assistants"]] == [ids[1]]
    assert second["pagination"] == {"total": 3, "limit": 1, "offset": 1, "has_more": True}
    found = ok(await a.get(A, params={"search": "SUPPORT"}))
    assert [x["id"] for x in found["assistants"]] == [ids[2], ids[0]] and found["total"] == 2
    assert found["filters_applied"]["search"] == "SUPPORT"
    assert ok(await a.get(A, params={"search": "%"}))["assistants"] == []
    # The SDK's own list parameters at the values the list already follows.
    same = {"organization_id": ORG_A, "sort_by": "created_at", "sort_order": "desc", "fields": "full"}
    assert [x["id"] for x in ok(await a.get(A, params=same))["assistants"]] == ids[::-1]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"offset": -1},
        {"limt": 5},
        {"fields": "everything"},
        {"search": "x" * 257},
    ],
)
async def test_bad_and_unknown_list_parameters_are_422(a: Api, params: dict[str, Any]) -> None:
    err(await a.get(A, params=params), 422, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "params", [{"sort_order": "asc"}, {"include_inactive": "true"}, {"vector_store_id": "vs_1"}]
)
async def test_list_parameters_it_cannot_honour_are_400(a: Api, params: dict[str, Any]) -> None:
    error = err(await a.get(A, params=params), 400, "UNSUPPORTED_PARAMETER")
    assert error["details"] == {"parameter": next(iter(params))}


async def test_another_organization_in_the_list_query_is_403(a: Api) -> None:
    err(await a.get(A, params={"organization_id": ORG_B}), 403, "ORGANIZATION_ACCESS_DENIED")
    err(await a.post(A, json={"name": "x", "organization_id": ORG_B}), 403, "ORGANIZATION_ACCESS_DENIED")


@pytest.mark.parametrize(
    ("fields", "mode"),
    [
        ({"memory": "auto"}, "auto"),
        ({"memory": "Readonly"}, "readonly"),
        ({"memory_enabled": True}, "auto"),
    ],
)
async def test_an_assistants_memory_mode_is_kept_in_any_case(
    a: Api, fields: dict[str, Any], mode: str
) -> None:
    made = await create(a, **fields)
    assert (made["memory"], made["memory_enabled"]) == (mode, True)
    off = await create(a, memory="OFF")
    assert ok(await put(a, off["id"], **fields))["memory"] == mode
    assert ok(await a.get(f"{A}/{off['id']}"))["memory"] == mode
    assert ok(await put(a, off["id"], memory="off"))["memory"] == "off"


async def test_an_unknown_memory_mode_is_422(a: Api) -> None:
    err(await a.post(A, json={"name": "m", "memory": "sometimes"}), 422, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    ("field", "value", "status"),
    [
        ("temperature", 0.3, 400),
        ("tool_configurations", {"web_search": True}, 400),
        ("is_active", False, 400),
        ("vector_store_ids", ["vs_1"], 400),
        ("is_active", True, 201),
        ("streaming", True, 201),
        ("vector_store_ids", [], 201),
        ("temperature", None, 201),
        ("no_such_field", 1, 422),
    ],
)
async def test_freddy_settings_pass_at_their_defaults_only(
    a: Api, field: str, value: Any, status: int
) -> None:
    r = await a.post(A, json={"name": "s", field: value})
    assert r.status_code == status, r.text
    if status == 400:
        assert err(r, 400, "UNSUPPORTED_PARAMETER")["details"] == {"parameter": field}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 257},
        {"name": 5},
        {"name": "x", "metadata": "not an object"},
        {"name": "x", "metadata": {"big": "y" * 20_000}},
    ],
)
async def test_malformed_bodies_are_422(a: Api, body: dict[str, Any]) -> None:
    r = await a.post(A, json=body)
    assert r.status_code == 422, r.text
    assert ok(await a.get(A))["total"] == 0


async def test_a_model_nothing_routes_is_refused_and_one_without_a_key_is_kept(a: Api) -> None:
    err(await a.post(A, json={"name": "x", "model": "no-such-model"}), 404, "MODEL_NOT_FOUND")
    kept = await create(a, model="gpt-4.1")
    assert kept["model"] == "gpt-4.1"
    err(await put(a, kept["id"], model="no-such-model"), 404, "MODEL_NOT_FOUND")


async def test_delete_answers_200_and_then_404_everywhere(a: Api) -> None:
    made = await create(a)
    gone = ok(await a.delete(f"{A}/{made['id']}"))
    assert gone == {
        "id": made["id"],
        "object": "assistant.deleted",
        "deleted": True,
        "success": True,
        "detached_threads": 0,
    }
    for method, body in [("GET", None), ("PUT", {"name": "x"}), ("DELETE", None)]:
        err(await a.request(method, f"{A}/{made['id']}", json=body), 404, "ASSISTANT_NOT_FOUND")
    assert ok(await a.get(A))["assistants"] == []


ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "{aid}", None),
    ("PUT", "{aid}", {"name": "taken over"}),
    ("DELETE", "{aid}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_another_organizations_assistant_answers_exactly_like_a_missing_one(
    a: Api, b: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    mine = await create(a, instructions="alpha only")
    missing = uid("asst")
    r_other = await b.request(method, f"{A}/{path.format(aid=mine['id'])}", json=body)
    r_missing = await b.request(method, f"{A}/{path.format(aid=missing)}", json=body)
    e_other, e_missing = err(r_other, 404, "ASSISTANT_NOT_FOUND"), err(r_missing, 404, "ASSISTANT_NOT_FOUND")
    assert e_other["message"] == e_missing["message"].replace(missing, mine["id"])
    assert e_other["details"] == e_missing["details"]
    assert ok(await a.get(f"{A}/{mine['id']}")) == mine
    assert ok(await b.get(A))["total"] == 0


@pytest.mark.parametrize("aid", ["a b", "x" * 129, "caf\u00e9", "a%00b"])
async def test_ids_that_cannot_exist_are_not_found(a: Api, aid: str) -> None:
    for method, body in [("GET", None), ("PUT", {"name": "x"}), ("DELETE", None)]:
        err(await a.request(method, f"{A}/{aid}", json=body), 404, "ASSISTANT_NOT_FOUND")
