"""SPEC §4.2, §8: malformed /v1/threads requests (bodies, query parameters, odd ids in the path, odd
but decodable metadata) get a 4xx in the error envelope, never a 500, and change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, err, ok, store_independent, uid
from tests.e2e.bad_input.helpers import JSON, Case, V, check_refusal, snapshot

pytestmark = pytest.mark.asyncio(loop_scope="package")  # the package's one app (conftest.py)


# -- thread endpoints -------------------------------------------------------------------------------

THREADS_CASES = [
    Case("create-malformed-json", 422, V, path="/v1/threads", content=b"{"),
    Case("create-list", 422, V, path="/v1/threads", json_body=[]),
    Case("create-string", 422, V, path="/v1/threads", content=b'"x"'),
    Case("create-id-too-long", 422, V, path="/v1/threads", json_body={"id": "t" * 129}),
    Case("create-id-slash", 422, V, path="/v1/threads", json_body={"id": "a/b"}),
    Case("create-id-space", 422, V, path="/v1/threads", json_body={"id": "a b"}),
    Case("create-id-unicode", 422, V, path="/v1/threads", json_body={"id": "ü"}),
    Case("create-id-empty", 422, V, path="/v1/threads", json_body={"id": ""}),
    Case("create-id-newline", 422, V, path="/v1/threads", json_body={"id": "abc\n"}),
    Case("create-id-number", 422, V, path="/v1/threads", json_body={"id": 12}),
    Case("create-metadata-list", 422, V, path="/v1/threads", json_body={"metadata": ["a"]}),
    Case("create-metadata-string", 422, V, path="/v1/threads", json_body={"metadata": "a"}),
    Case("create-visible-string", 422, V, path="/v1/threads", json_body={"visible_in_ui": "yes"}),
    Case("create-unknown-field", 422, V, path="/v1/threads", json_body={"state": "open"}),
    Case(
        "create-deep-metadata",
        422,
        V,
        path="/v1/threads",
        content=b'{"metadata": %s1%s}' % (b'{"a":' * 100_000, b"}" * 100_000),
    ),
    Case("create-invalid-utf8", 422, V, path="/v1/threads", content=b'{"id": "\xc3\x28"}'),
    Case("list-limit-abc", 422, V, method="GET", path="/v1/threads", params={"limit": "abc"}),
    Case("list-limit-negative", 422, V, method="GET", path="/v1/threads", params={"limit": "-1"}),
    Case("list-limit-zero", 422, V, method="GET", path="/v1/threads", params={"limit": "0"}),
    Case("list-limit-101", 422, V, method="GET", path="/v1/threads", params={"limit": "101"}),
    Case("list-limit-float", 422, V, method="GET", path="/v1/threads", params={"limit": "1.5"}),
    Case("list-limit-huge", 422, V, method="GET", path="/v1/threads", params={"limit": "9" * 400}),
    Case("list-visible-maybe", 422, V, method="GET", path="/v1/threads", params={"visible_in_ui": "maybe"}),
    Case("list-state-closed", 422, V, method="GET", path="/v1/threads", params={"state": "closed"}),
    Case("list-after-unknown", 422, V, method="GET", path="/v1/threads", params={"after": "thread_nope"}),
    Case("list-after-too-long", 422, V, method="GET", path="/v1/threads", params={"after": "x" * 5000}),
]


@pytest.mark.parametrize(
    "case",
    # Refused by the request's checks before any store is asked; an `after` is looked up in the store.
    [
        pytest.param(c, id=c.name, marks=[] if "after" in c.name else [store_independent])
        for c in THREADS_CASES
    ],
)
async def test_malformed_threads_request_is_answered_4xx_with_envelope(a: Api, case: Case) -> None:
    before = await snapshot(a)
    r = await a.request(case.method, case.path, **case.kwargs())
    check_refusal(r, case)
    assert await snapshot(a) == before


MESSAGES_PARAMS = [
    {"order": "sideways"},
    {"order": "ASC "},
    {"limit": "abc"},
    {"limit": "-1"},
    {"limit": "0"},
    {"limit": "101"},
    {"after": "msg_nope"},
]


@pytest.mark.parametrize("params", MESSAGES_PARAMS, ids=[repr(p) for p in MESSAGES_PARAMS])
async def test_garbage_message_list_query_is_422(a: Api, params: dict[str, str]) -> None:
    tid = ok(await a.say("hi"))["thread_id"]
    r = await a.get(f"/v1/threads/{tid}/messages", params=params)
    err(r, 422, V)
    assert len(await a.messages(tid)) == 2


PATCH_BODIES: list[tuple[str, bytes]] = [
    ("malformed", b"{"),
    ("list", b"[]"),
    ("null", b"null"),
    ("state-closed", b'{"state": "closed"}'),
    ("metadata-list", b'{"metadata": [1, 2]}'),
    ("visible-string", b'{"visible_in_ui": "no"}'),
    ("unknown-field", b'{"id": "other"}'),
    ("invalid-utf8", b'{"metadata": {"k": "\xff"}}'),
]


@pytest.mark.parametrize(("name", "raw"), PATCH_BODIES, ids=[n for n, _ in PATCH_BODIES])
async def test_malformed_patch_is_422_and_changes_nothing(a: Api, name: str, raw: bytes) -> None:
    tid = ok(await a.say("hi", thread={"id": uid(), "metadata": {"k": "v"}}))["thread_id"]
    before = ok(await a.thread(tid))
    r = await a.patch(f"/v1/threads/{tid}", content=raw, headers=JSON)
    err(r, 422, V)
    assert ok(await a.thread(tid)) == before


ODD_PATHS = [
    "a%20b",
    "a%2Fb",
    "%2E%2E",
    "..%2F..%2Fetc%2Fpasswd",
    "%E2%98%83",
    "%F0%9F%98%80",
    "%00",
    "a%0Ab",
    "%FF%FE",
    "t" * 129,
    "a%3Bb",
    "%25",
    "a'b",
    "a%22b",
]


@pytest.mark.parametrize("segment", ODD_PATHS)
@pytest.mark.parametrize(
    ("method", "suffix", "payload"),
    [
        ("GET", "", None),
        ("GET", "/messages", None),
        ("PATCH", "", {"metadata": {"k": "v"}}),
        ("DELETE", "", None),
    ],
    ids=["get", "messages", "patch", "delete"],
)
async def test_odd_thread_ids_in_path_are_not_found_not_500(
    a: Api, segment: str, method: str, suffix: str, payload: dict[str, Any] | None
) -> None:
    before = await snapshot(a)
    kw: dict[str, Any] = {} if payload is None else {"json": payload}
    r = await a.request(method, f"/v1/threads/{segment}{suffix}", **kw)
    assert r.status_code != 500, r.text
    # An encoded slash splits the path, so no thread route matches it (NOT_FOUND, SPEC §8); any
    # other segment is a thread id that names no thread.
    err(r, 404, "NOT_FOUND" if "%2F" in segment else "THREAD_NOT_FOUND")
    assert await snapshot(a) == before
    assert ok(await a.thread("a"))["metadata"] == {}
    assert len(await a.messages("a")) == 2


# -- values that decode but are odd ------------------------------------------------------------------


async def test_a_huge_integer_in_metadata_round_trips_exactly(a: Api) -> None:
    tid = uid("huge")
    raw = b'{"id": "%s", "metadata": {"n": %s}}' % (tid.encode(), b"9" * 400)
    r = await a.post("/v1/threads", content=raw, headers=JSON)
    assert r.status_code == 201, r.text
    # JSON numbers have no size limit: the 400 digits come back as they were sent, not as a float.
    assert r.json()["metadata"] == {"n": int("9" * 400)}
    assert ok(await a.thread(tid))["metadata"] == {"n": int("9" * 400)}


async def test_deep_but_small_metadata_is_refused_for_its_depth(a: Api) -> None:
    depth = 500
    tid = uid("deep")
    raw = b'{"id": "%s", "metadata": %s1%s}' % (tid.encode(), b'{"a":' * depth, b"}" * depth)
    r = await a.post("/v1/threads", content=raw, headers=JSON)
    e = err(r, 422, "VALIDATION_ERROR")
    assert e["details"] == {"limit": 32} and "32" in e["message"]
    err(await a.thread(tid), 404, "THREAD_NOT_FOUND")
