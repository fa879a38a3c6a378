"""SPEC §3, §8: a malformed POST /v1/model/response (not JSON, wrong fields, types, ranges, thread
ids, conflicts, unknown models, oversize or too deep) gets a 4xx in the error envelope, never a 500,
and saves nothing."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Api, err, store_independent, user
from tests.e2e.bad_input.helpers import CP, GOOD, TURN, Case, V, body, check_refusal, item, snapshot

pytestmark = pytest.mark.asyncio(loop_scope="package")  # the package's one app (conftest.py)


TURN_CASES = [
    # not JSON, or not an object
    Case("malformed-json", 422, V, content=b'{"model": "echo", "inputs": ['),
    Case("trailing-garbage", 422, V, content=json.dumps(GOOD).encode() + b"}}"),
    Case("empty-body", 422, V, content=b""),
    Case("json-list", 422, V, json_body=[GOOD]),
    Case("json-string", 422, V, content=b'"hello"'),
    Case("json-number", 422, V, content=b"42"),
    Case("json-null", 422, V, content=b"null"),
    Case("json-true", 422, V, content=b"true"),
    Case("nan-literal", 422, V, content=b'{"model": "echo", "inputs": [], "temperature": NaN}'),
    Case(
        "invalid-utf8",
        422,
        V,
        content=b'{"model": "echo", "inputs": [{"role": "user", "content": "\xff\xfe"}]}',
    ),
    Case(
        "lone-surrogate",
        422,
        V,
        content=b'{"model": "echo", "inputs": [{"role": "user", "content": "\\ud800"}]}',
    ),
    Case("utf16-body", 422, V, content=json.dumps(GOOD).encode("utf-16")),
    Case(
        "form-encoded",
        422,
        V,
        content=b"model=echo&inputs=hi",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    Case("text-plain-not-json", 422, V, content=b"model: echo", headers={"Content-Type": "text/plain"}),
    Case(
        "multipart",
        422,
        V,
        content=b'--x\r\nContent-Disposition: form-data; name="model"\r\n\r\necho\r\n--x--\r\n',
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    ),
    # required fields
    Case("missing-model", 422, V, json_body=body(model=...)),
    Case("empty-model", 422, V, json_body=body(model="")),
    Case("model-not-string", 422, V, json_body=body(model=42)),
    Case("missing-inputs", 422, V, json_body=body(inputs=...)),
    Case("empty-inputs", 422, V, json_body=body(inputs=[])),
    Case("inputs-string", 422, V, json_body=body(inputs="hi")),
    Case("inputs-object", 422, V, json_body=body(inputs=user("hi"))),
    Case("inputs-null", 422, V, json_body=body(inputs=None)),
    Case("input-item-string", 422, V, json_body=body(inputs=["hi"])),
    # input items
    Case("unknown-role", 422, V, json_body=item(role="tool", texts=[{"text": "x"}])),
    Case("developer-role", 422, V, json_body=item(role="developer", content="x")),
    Case("missing-role", 422, V, json_body=item(texts=[{"text": "x"}])),
    # Both may come (an output item sent back), carrying the same texts; different ones are refused.
    Case("texts-and-content-differ", 422, V, json_body=item(role="user", texts=[{"text": "x"}], content="y")),
    Case("neither-texts-nor-content", 422, V, json_body=item(role="user")),
    Case("texts-null-content-null", 422, V, json_body=item(role="user", texts=None, content=None)),
    Case("texts-empty", 422, V, json_body=item(role="user", texts=[])),
    Case("texts-not-list", 422, V, json_body=item(role="user", texts="x")),
    Case("text-not-string", 422, V, json_body=item(role="user", texts=[{"text": 5}])),
    Case("text-null", 422, V, json_body=item(role="user", texts=[{"text": None}])),
    Case("text-part-missing-text", 422, V, json_body=item(role="user", texts=[{}])),
    Case("text-part-unknown-field", 422, V, json_body=item(role="user", texts=[{"text": "x", "bold": True}])),
    Case("content-not-string", 422, V, json_body=item(role="user", content=["x"])),
    Case("item-type-not-message", 422, V, json_body=item(role="user", content="x", type="function_call")),
    Case("item-unknown-field", 422, V, json_body=item(role="user", content="x", name="bob")),
    Case("body-unknown-field", 422, V, json_body=body(frequency_penalty=0.5)),
    # `threadId` is an alias of `thread_id` (SPEC §10); the snake form of `threadState` is not.
    Case("body-snake-case-thread-state", 422, V, json_body=body(thread_state="open")),
    # wrong types and ranges
    Case("stream-string", 422, V, json_body=body(stream="yes")),
    Case("stream-number", 422, V, json_body=body(stream=1)),
    Case("store-string", 422, V, json_body=body(store="false")),
    Case("store-null", 422, V, json_body=body(store=None)),
    Case("temperature-string", 422, V, json_body=body(temperature="hot")),
    Case("top-p-string", 422, V, json_body=body(top_p="0.5")),
    Case("max-output-tokens-string", 422, V, json_body=body(max_output_tokens="10")),
    Case("max-output-tokens-float", 422, V, json_body=body(max_output_tokens=1.5)),
    Case("max-output-tokens-zero", 422, V, json_body=body(max_output_tokens=0)),
    Case("max-output-tokens-negative", 422, V, json_body=body(max_output_tokens=-5)),
    Case("temperature-above-range", 422, V, json_body=body(temperature=2.5)),
    Case("temperature-negative", 422, V, json_body=body(temperature=-0.1)),
    Case("top-p-above-range", 422, V, json_body=body(top_p=1.01)),
    Case("top-p-negative", 422, V, json_body=body(top_p=-1)),
    Case(
        "temperature-overflow",
        422,
        V,
        content=b'{"model": "echo", "inputs": [], "temperature": 1e999}'.replace(
            b"[]", json.dumps([user("hi")]).encode()
        ),
    ),
    Case(
        "huge-int-max-output-tokens",
        422,
        V,
        content=b'{"model": "echo", "inputs": %s, "max_output_tokens": %s}'
        % (json.dumps([user("hi")]).encode(), b"9" * 400),
    ),
    Case(
        "huge-int-temperature",
        422,
        V,
        content=b'{"model": "echo", "inputs": %s, "temperature": %s}'
        % (json.dumps([user("hi")]).encode(), b"1" + b"0" * 400),
    ),
    Case("instructions-not-string", 422, V, json_body=body(instructions=["be nice"])),
    Case("organization-id-not-string", 422, V, json_body=body(organization_id=7)),
    # thread ids and thread objects
    Case("thread-id-too-long", 422, V, json_body=body(thread="t" * 129)),
    Case("thread-id-empty", 422, V, json_body=body(thread="")),
    Case("thread-id-space", 422, V, json_body=body(thread="a b")),
    Case("thread-id-slash", 422, V, json_body=body(thread="a/b")),
    Case("thread-id-unicode", 422, V, json_body=body(thread="thré")),
    Case("thread-id-emoji", 422, V, json_body=body(thread="t\U0001f600")),
    Case("thread-id-trailing-newline", 422, V, json_body=body(thread="abc\n")),
    Case("thread-id-nul", 422, V, json_body=body(thread="abc\x00")),
    Case("thread_id-too-long", 422, V, json_body=body(thread_id="t" * 129)),
    Case("thread_id-slash", 422, V, json_body=body(thread_id="../etc")),
    Case("thread_id-trailing-newline", 422, V, json_body=body(thread_id="abc\n")),
    Case("thread-object-id-invalid", 422, V, json_body=body(thread={"id": "a b"})),
    Case("thread-object-missing-id", 422, V, json_body=body(thread={"metadata": {"a": 1}})),
    Case("thread-object-unknown-field", 422, V, json_body=body(thread={"id": "ok", "state": "open"})),
    Case("thread-object-metadata-list", 422, V, json_body=body(thread={"id": "ok", "metadata": [1]})),
    Case("thread-number", 422, V, json_body=body(thread=123)),
    Case("thread-list", 422, V, json_body=body(thread=["a"])),
    Case("thread-state-invalid", 422, V, json_body=body(threadState="closed")),
    Case("thread-state-case", 422, V, json_body=body(threadState="Locked")),
    Case("thread-state-snake-case-field", 422, V, json_body=body(thread_state="locked")),
    Case("previous-response-id-empty", 422, V, json_body=body(previousResponseId="")),
    Case("previous-response-id-number", 422, V, json_body=body(previousResponseId=1)),
    # conflicts
    Case("thread-and-thread-id-differ", 400, CP, json_body=body(thread="t1", thread_id="t2")),
    Case("thread-object-and-thread-id-differ", 400, CP, json_body=body(thread={"id": "t1"}, thread_id="t2")),
    Case("prev-and-thread", 400, CP, json_body=body(previousResponseId="resp_x", thread="t1")),
    Case("prev-and-thread-object", 400, CP, json_body=body(previousResponseId="resp_x", thread={"id": "t1"})),
    Case("prev-and-thread-id", 400, CP, json_body=body(previousResponseId="resp_x", thread_id="t1")),
    Case("prev-and-thread-state", 400, CP, json_body=body(previousResponseId="resp_x", threadState="locked")),
    Case(
        "prev-and-thread-state-open", 400, CP, json_body=body(previousResponseId="resp_x", threadState="open")
    ),
    # models
    Case("unknown-model", 404, "MODEL_NOT_FOUND", json_body=body(model="no-such-model")),
    Case("unknown-provider-prefix", 404, "MODEL_NOT_FOUND", json_body=body(model="acme/gpt-4.1")),
    Case("provider-without-model", 404, "MODEL_NOT_FOUND", json_body=body(model="openai/")),
    Case("echo-uppercase", 404, "MODEL_NOT_FOUND", json_body=body(model="ECHO")),
    Case("gpt-without-key", 503, "PROVIDER_NOT_CONFIGURED", json_body=body(model="gpt-4.1")),
    Case("o3-without-key", 503, "PROVIDER_NOT_CONFIGURED", json_body=body(model="o3")),
    Case("claude-without-key", 503, "PROVIDER_NOT_CONFIGURED", json_body=body(model="claude-sonnet-4-5")),
    Case(
        "openai-prefixed-without-key", 503, "PROVIDER_NOT_CONFIGURED", json_body=body(model="openai/gpt-4.1")
    ),
    Case(
        "anthropic-prefixed-without-key",
        503,
        "PROVIDER_NOT_CONFIGURED",
        json_body=body(model="anthropic/claude-sonnet-4-5"),
    ),
    Case(
        "gpt-without-key-streaming",
        503,
        "PROVIDER_NOT_CONFIGURED",
        json_body=body(model="gpt-4.1", stream=True),
    ),
    # previous responses
    Case(
        "unknown-previous-response", 404, "RESPONSE_NOT_FOUND", json_body=body(previousResponseId="resp_nope")
    ),
    Case(
        "unknown-previous-response-streaming",
        404,
        "RESPONSE_NOT_FOUND",
        json_body=body(previousResponseId="resp_nope", stream=True),
    ),
    # size
    Case("body-over-1mb", 413, "PAYLOAD_TOO_LARGE", json_body=item(role="user", content="x" * 1_048_600)),
    Case("body-over-1mb-invalid-json", 413, "PAYLOAD_TOO_LARGE", content=b"[" * 1_100_000),
    # depth
    Case(
        "deep-nested-metadata",
        422,
        V,
        json_body=None,
        content=b'{"model": "echo", "inputs": %s, "thread": {"id": "deep", "metadata": %s1%s}}'
        % (json.dumps([user("hi")]).encode(), b'{"a":' * 100_000, b"}" * 100_000),
    ),
    Case("deep-nested-arrays", 422, V, content=b"[" * 200_000 + b"]" * 200_000),
]


@pytest.mark.parametrize(
    "case",
    # 400/413/422: refused by the body's checks before any store is asked (404 and 503 are not).
    [
        pytest.param(c, id=c.name, marks=[store_independent] if c.status in (400, 413, 422) else [])
        for c in TURN_CASES
    ],
)
async def test_malformed_turn_is_answered_4xx_with_envelope_and_saves_nothing(a: Api, case: Case) -> None:
    before = await snapshot(a)
    r = await a.request(case.method, case.path, **case.kwargs())
    check_refusal(r, case)
    assert await snapshot(a) == before


async def test_unknown_model_message_names_the_model(a: Api) -> None:
    e = err(await a.say("hi", model="no-such-model"), 404, "MODEL_NOT_FOUND")
    assert "no-such-model" in e["message"]


async def test_unknown_previous_response_message_names_the_id(a: Api) -> None:
    e = err(await a.say("hi", previousResponseId="resp_nope"), 404, "RESPONSE_NOT_FOUND")
    assert e["message"] == "Response 'resp_nope' was not found."


@store_independent
async def test_validation_error_lists_the_problem(a: Api) -> None:
    e = err(await a.post(TURN, json=body(temperature="hot")), 422, V)
    assert "temperature" in json.dumps(e)
