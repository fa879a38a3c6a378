"""Malformed requests to the Backboard door get a 4xx with a `detail`, never a 500, and make nothing
(SPEC §8, §13); fields of Backboard's API the gateway does not implement are refused by name (400)
unless absent or at their default, and unknown fields are 422."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import store_independent
from tests.e2e.backboard.helpers import detail, new_id, ok

TURN = "/api/threads/messages"

BAD_TURNS: list[tuple[str, dict[str, Any], int]] = [
    ("not json", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 422),
    ("a json array", {"json": [1, 2]}, 422),
    ("empty body", {"content": b"", "headers": {"content-type": "application/json"}}, 422),
    ("content a number", {"json": {"content": 5}}, 422),
    ("stream a string in json", {"json": {"content": "x", "stream": "yes"}}, 422),
    ("no content", {"json": {"stream": False}}, 422),
    ("empty content", {"json": {"content": ""}}, 422),
    ("unknown field", {"json": {"content": "x", "temperature": 0.5}}, 422),
    ("provider without model", {"json": {"content": "x", "llm_provider": "openai"}}, 422),
    ("model name too long", {"json": {"content": "x", "model_name": "m" * 300}}, 422),
    ("thread id not a uuid", {"json": {"content": "x", "thread_id": "thread_abc"}}, 404),
    ("assistant id not a uuid", {"json": {"content": "x", "assistant_id": "asst_abc"}}, 404),
    ("upper-case uuid", {"json": {"content": "x", "thread_id": new_id().upper()}}, 404),
    ("unknown model", {"json": {"content": "x", "model_name": "zzz-unknown"}}, 404),
    ("text/plain", {"content": b"content=x", "headers": {"content-type": "text/plain"}}, 422),
    ("form, stream not a boolean", {"data": {"content": "x", "stream": "maybe"}}, 422),
    ("form, unknown field", {"data": {"content": "x", "colour": "blue"}}, 422),
    ("form, no content", {"data": {"stream": "false"}}, 422),
    (
        "form, field twice",
        {"content": b"content=a&content=b", "headers": {"content-type": "application/x-www-form-urlencoded"}},
        422,
    ),
    (
        "form, bytes not utf-8",
        {"content": b"content=%ff%fe", "headers": {"content-type": "application/x-www-form-urlencoded"}},
        422,
    ),
    (
        "multipart without boundary",
        {"content": b"--x\r\n", "headers": {"content-type": "multipart/form-data"}},
        422,
    ),
    (
        "multipart cut short",
        {
            "content": b'--b\r\nContent-Disposition: form-data; name="content"\r\n\r\nhal',
            "headers": {"content-type": "multipart/form-data; boundary=b"},
        },
        422,
    ),
    (
        "multipart part in an unknown charset",
        {
            "content": b'--b\r\nContent-Disposition: form-data; name="content"\r\n'
            b"Content-Type: text/plain; charset=no-such-charset\r\n\r\nhi\r\n--b--\r\n",
            "headers": {"content-type": "multipart/form-data; boundary=b"},
        },
        422,
    ),
    (
        "multipart part not in its charset",
        {
            "content": b'--b\r\nContent-Disposition: form-data; name="content"\r\n\r\n\xff\xfe\r\n--b--\r\n',
            "headers": {"content-type": "multipart/form-data; boundary=b"},
        },
        422,
    ),
    ("too large", {"json": {"content": "x" * 1_100_000}}, 413),
    ("tools", {"json": {"content": "x", "tools": [{"type": "function"}]}}, 400),
    ("web search on", {"json": {"content": "x", "web_search": "Auto"}}, 400),
    ("metadata", {"json": {"content": "x", "metadata": {"k": "v"}}}, 400),
    ("json output", {"json": {"content": "x", "json_output": True}}, 400),
    ("send_to_llm false, form", {"data": {"content": "x", "send_to_llm": "false"}}, 400),
    ("image generation", {"json": {"content": "x", "image_generation": "auto"}}, 400),
    ("memory pro", {"json": {"content": "x", "memory_pro": "Auto"}}, 400),
    ("operation", {"json": {"content": "x", "operation": "generate_image"}}, 400),
]


@pytest.mark.parametrize(
    ("kw", "status"),
    # Refused by the body's checks before any store is asked; the 404s look ids or the model up.
    [pytest.param(k, s, id=n, marks=[store_independent] if s != 404 else []) for n, k, s in BAD_TURNS],
)
async def test_a_malformed_turn_is_refused_and_makes_nothing(
    http: httpx.AsyncClient, kw: dict[str, Any], status: int
) -> None:
    detail(await http.post(TURN, **kw), status)
    assert ok(await http.get("/api/threads")) == []
    assert ok(await http.get("/v1/threads")).get("data") == []


@store_independent
async def test_unsupported_fields_are_named_in_the_detail(http: httpx.AsyncClient) -> None:
    assert "`tools`" in detail(await http.post(TURN, json={"content": "x", "tools": [{}]}), 400)
    assert "`send_to_llm`" in detail(
        await http.post(TURN, data={"content": "x", "send_to_llm": "false"}), 400
    )


ACCEPTED_DEFAULTS: list[dict[str, Any]] = [
    {"json": {"content": "x", "web_search": "off", "image_generation": "off", "tools": [], "metadata": {}}},
    {
        "json": {
            "content": "x",
            "send_to_llm": True,
            "json_output": False,
            "operation": "chat",
            "thinking": None,
        }
    },
    {"data": {"content": "x", "memory_response_citation": "false", "send_to_llm": "true", "metadata": "{}"}},
    {"json": {"content": "x", "user": "end-user-1", "memory": "off"}},
]


@pytest.mark.parametrize("kw", ACCEPTED_DEFAULTS)
async def test_unsupported_fields_at_their_defaults_are_accepted(
    http: httpx.AsyncClient, kw: dict[str, Any]
) -> None:
    assert ok(await http.post(TURN, **kw))["content"] == "x"


async def test_the_older_path_refuses_a_body_naming_another_thread(http: httpx.AsyncClient) -> None:
    first = ok(await http.post(TURN, json={"content": "x"}))
    r = await http.post(
        f"/api/threads/{first['thread_id']}/messages", data={"content": "y", "thread_id": new_id()}
    )
    assert "thread" in detail(r, 400)


BAD_ASSISTANTS: list[tuple[str, dict[str, Any], int]] = [
    ("no name", {}, 422),
    ("empty name", {"name": ""}, 422),
    ("blank name", {"name": "   "}, 422),
    ("name too long", {"name": "n" * 300}, 422),
    ("name a number", {"name": 3}, 422),
    ("unknown field", {"name": "a", "temperature": 1}, 422),
    ("tools", {"name": "a", "tools": [{"type": "function"}]}, 400),
    ("tok_k", {"name": "a", "tok_k": 5}, 400),
    ("embedding model", {"name": "a", "embedding_model_name": "text-embedding-3-small"}, 400),
    ("unknown model", {"name": "a", "model_name": "zzz-unknown"}, 404),
    ("provider without model", {"name": "a", "llm_provider": "openai"}, 422),
]


@pytest.mark.parametrize(
    ("body", "status"),
    [pytest.param(b, s, id=n, marks=[store_independent] if s != 404 else []) for n, b, s in BAD_ASSISTANTS],
)
async def test_a_malformed_assistant_is_refused_and_makes_nothing(
    http: httpx.AsyncClient, body: dict[str, Any], status: int
) -> None:
    detail(await http.post("/api/assistants", json=body), status)
    assert ok(await http.get("/api/assistants")) == []


# The same bodies as changes of an existing assistant (an empty change is a valid one).
BAD_UPDATES = [(b, s) for n, b, s in BAD_ASSISTANTS if n != "no name"]


@pytest.mark.parametrize(("body", "status"), BAD_UPDATES)
async def test_a_malformed_assistant_update_is_refused_and_changes_nothing(
    http: httpx.AsyncClient, body: dict[str, Any], status: int
) -> None:
    made = ok(await http.post("/api/assistants", json={"name": "kept"}))
    detail(await http.put(f"/api/assistants/{made['assistant_id']}", json=body), status)
    assert ok(await http.get(f"/api/assistants/{made['assistant_id']}")) == made


@pytest.mark.parametrize(
    "path",
    [
        "/api/threads/..",
        "/api/threads/%00",
        "/api/threads/" + "a" * 5000,
        "/api/assistants/%C3%28",
        "/api/assistants/{uuid}%20",
    ],
)
async def test_odd_ids_in_paths_are_404(http: httpx.AsyncClient, path: str) -> None:
    r = await http.get(path.replace("{uuid}", new_id()))
    assert r.status_code == 404, r.text
    detail(r, 404)


async def test_a_malformed_thread_create_body_is_422(http: httpx.AsyncClient) -> None:
    aid = ok(await http.post("/api/assistants", json={"name": "a"}))["assistant_id"]
    detail(await http.post(f"/api/assistants/{aid}/threads", json={"metadata": "not an object"}), 422)
    detail(await http.post(f"/api/assistants/{aid}/threads", json={"title": "t"}), 422)
    big = {"metadata": {"k": "v" * 20_000}}
    detail(await http.post(f"/api/assistants/{aid}/threads", json=big), 422)
    assert ok(await http.get("/api/threads")) == []
