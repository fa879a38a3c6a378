"""SPEC §8 on the OpenAI door: a malformed request to any of its routes (not JSON, wrong shapes,
types, ranges, sizes, odd ids and queries) gets a 4xx in OpenAI's envelope, never a 500, and
saves nothing."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import store_independent
from tests.e2e.openai.helpers import error_shape, thread_texts

GOOD = {"model": "echo", "input": "hi"}

# (name, method, path, raw body or JSON value, expected status); {cid} is a real conversation.
CASES: list[tuple[str, str, str, bytes | Any, int]] = [
    ("not-json", "POST", "/v1/responses", b'{"model": "echo", "input": [', 422),
    ("empty-body", "POST", "/v1/responses", b"", 422),
    ("json-list", "POST", "/v1/responses", [GOOD], 422),
    ("json-null", "POST", "/v1/responses", None, 422),
    ("invalid-utf8", "POST", "/v1/responses", b'{"model": "echo", "input": "\xff\xfe"}', 422),
    ("lone-surrogate", "POST", "/v1/responses", b'{"model": "echo", "input": "\\ud800"}', 422),
    ("nan", "POST", "/v1/responses", b'{"model": "echo", "input": "x", "temperature": NaN}', 422),
    ("no-input", "POST", "/v1/responses", {"model": "echo"}, 422),
    ("empty-input-list", "POST", "/v1/responses", {"model": "echo", "input": []}, 422),
    ("input-number", "POST", "/v1/responses", {"model": "echo", "input": 5}, 422),
    ("item-not-object", "POST", "/v1/responses", {"model": "echo", "input": ["hi"]}, 422),
    ("item-no-content", "POST", "/v1/responses", {"model": "echo", "input": [{"role": "user"}]}, 422),
    (
        "item-bad-role",
        "POST",
        "/v1/responses",
        {"model": "echo", "input": [{"role": "x", "content": "y"}]},
        422,
    ),
    (
        "item-extra-field",
        "POST",
        "/v1/responses",
        {"model": "echo", "input": [{"role": "user", "content": "y", "z": 1}]},
        422,
    ),
    (
        "item-type-number",
        "POST",
        "/v1/responses",
        {"model": "echo", "input": [{"type": 3, "role": "user", "content": "y"}]},
        400,
    ),
    (
        "part-not-object",
        "POST",
        "/v1/responses",
        {"model": "echo", "input": [{"role": "user", "content": ["y"]}]},
        422,
    ),
    (
        "part-no-text",
        "POST",
        "/v1/responses",
        {"model": "echo", "input": [{"role": "user", "content": [{"type": "input_text"}]}]},
        422,
    ),
    (
        "empty-parts",
        "POST",
        "/v1/responses",
        {"model": "echo", "input": [{"role": "user", "content": []}]},
        422,
    ),
    ("temperature-high", "POST", "/v1/responses", {**GOOD, "temperature": 3}, 422),
    ("top-p-negative", "POST", "/v1/responses", {**GOOD, "top_p": -0.1}, 422),
    ("max-tokens-zero", "POST", "/v1/responses", {**GOOD, "max_output_tokens": 0}, 422),
    ("store-string", "POST", "/v1/responses", {**GOOD, "store": "false"}, 422),
    ("stream-number", "POST", "/v1/responses", {**GOOD, "stream": 1}, 422),
    ("metadata-number", "POST", "/v1/responses", {**GOOD, "metadata": {"a": 1}}, 422),
    (
        "metadata-17-keys",
        "POST",
        "/v1/responses",
        {**GOOD, "metadata": {f"k{i}": "v" for i in range(17)}},
        422,
    ),
    ("metadata-long-value", "POST", "/v1/responses", {**GOOD, "metadata": {"k": "v" * 513}}, 422),
    ("conversation-number", "POST", "/v1/responses", {**GOOD, "conversation": 7}, 422),
    ("conversation-empty", "POST", "/v1/responses", {**GOOD, "conversation": ""}, 422),
    ("conversation-dots", "POST", "/v1/responses", {**GOOD, "conversation": ".."}, 404),
    ("conversation-odd", "POST", "/v1/responses", {**GOOD, "conversation": "a/b?c"}, 404),
    ("previous-long", "POST", "/v1/responses", {**GOOD, "previous_response_id": "r" * 300}, 422),
    ("model-empty", "POST", "/v1/responses", {"model": "", "input": "x"}, 422),
    ("unknown-field", "POST", "/v1/responses", {**GOOD, "inputs": []}, 422),
    ("deep-metadata", "POST", "/v1/conversations", {"metadata": {"a": {"b": "c"}}}, 422),
    ("conv-items-21", "POST", "/v1/conversations", {"items": [{"role": "user", "content": "x"}] * 21}, 422),
    ("conv-not-json", "POST", "/v1/conversations", b"{", 422),
    ("update-no-metadata", "POST", "/v1/conversations/{cid}", {}, 422),
    ("update-bad-metadata", "POST", "/v1/conversations/{cid}", {"metadata": ["x"]}, 422),
    ("items-empty", "POST", "/v1/conversations/{cid}/items", {"items": []}, 422),
    ("items-missing", "POST", "/v1/conversations/{cid}/items", {}, 422),
    (
        "items-tool-output",
        "POST",
        "/v1/conversations/{cid}/items",
        {"items": [{"type": "function_call_output"}]},
        400,
    ),
    ("items-list-limit-0", "GET", "/v1/conversations/{cid}/items?limit=0", None, 422),
    ("items-list-limit-text", "GET", "/v1/conversations/{cid}/items?limit=ten", None, 422),
    ("items-list-order", "GET", "/v1/conversations/{cid}/items?order=up", None, 422),
    ("items-list-cursor", "GET", "/v1/conversations/{cid}/items?after=msg_nope", None, 422),
    (
        "items-list-include",
        "GET",
        "/v1/conversations/{cid}/items?include[]=message.input_image.image_url",
        None,
        400,
    ),
    ("items-repeated-query", "GET", "/v1/conversations/{cid}/items?limit=1&limit=2", None, 422),
    ("response-stream-query", "GET", "/v1/responses/resp_x?stream=true", None, 400),
    ("response-bad-bool", "GET", "/v1/responses/resp_x?stream=maybe", None, 422),
    ("input-items-after-odd", "GET", "/v1/responses/resp_x/input_items?after=%00", None, 404),
    ("odd-conversation-path", "GET", "/v1/conversations/%2e%2e", None, 404),
    ("long-conversation-path", "GET", "/v1/conversations/" + "c" * 400, None, 404),
    ("odd-item-path", "GET", "/v1/conversations/{cid}/items/%00", None, 404),
]


def _marks(method: str, path: str, status: int) -> list[pytest.MarkDecorator]:
    """A new response or conversation refused by its body's checks asks no store; a request naming a
    conversation, a response or a cursor, and every 404, does."""
    fresh = method == "POST" and path in ("/v1/responses", "/v1/conversations")
    return [store_independent] if fresh and status != 404 else []


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "status"),
    [pytest.param(*c, id=c[0], marks=_marks(c[1], c[2], c[4])) for c in CASES],
)
async def test_a_malformed_request_is_refused_in_openais_envelope_and_saves_nothing(
    http: httpx.AsyncClient, name: str, method: str, path: str, body: bytes | Any, status: int
) -> None:
    made = (
        await http.post("/v1/conversations", json={"items": [{"role": "user", "content": "kept"}]})
    ).json()
    path = path.replace("{cid}", made["id"])
    before = (await http.get(f"/v1/conversations/{made['id']}")).json()
    if isinstance(body, bytes):
        r = await http.request(method, path, content=body, headers={"Content-Type": "application/json"})
    elif body is None and method == "GET":
        r = await http.request(method, path)
    else:
        r = await http.request(
            method, path, content=json.dumps(body), headers={"Content-Type": "application/json"}
        )
    assert r.status_code == status, (name, r.status_code, r.text[:300])
    error_shape(r.json())
    assert (await http.get(f"/v1/conversations/{made['id']}")).json() == before
    assert await thread_texts(http, made["id"]) == [("user", "kept")]
