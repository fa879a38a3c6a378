"""The request log lines (one JSON line a request, with its context; internal errors logged with
their request id) and SPEC §2: API keys never appear in logs or answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import KEY_A, KEY_B, ORG_A, ORG_B, Api, make_settings, ok, running, uid
from tests.e2e.errors_helpers import SECRET_DETAIL, BrokenProvider, say

# -- logs --------------------------------------------------------------------------------------------


def _lines(out: str) -> list[dict[str, Any]]:
    lines = [line for line in out.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        obj = json.loads(line)  # every line on stdout is one JSON object
        assert isinstance(obj, dict), line
        parsed.append(obj)
    return parsed


def _request_line(lines: list[dict[str, Any]], rid: str) -> dict[str, Any]:
    found = [x for x in lines if x.get("event") == "request" and x.get("request_id") == rid]
    assert len(found) == 1, (rid, lines)
    return found[0]


async def test_each_request_logs_one_json_line_with_its_context(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    async with running(make_settings(tmp_path)) as client:
        a, b = Api(client, KEY_A), Api(client, KEY_B)
        tid = uid()
        capsys.readouterr()
        turn = await say(a, "hi", "log-turn", thread=tid)
        assert turn.status_code == 200
        await a.get(f"/v1/threads/{tid}", headers={"X-Request-ID": "log-get"})
        await say(b, "hi", "log-bad-model", model="nope")
        await client.get("/v1/threads", headers={"X-Request-ID": "log-nokey"})
        await client.get("/health", headers={"X-Request-ID": "log-health"})
        out = capsys.readouterr().out

    lines = _lines(out)
    t = _request_line(lines, "log-turn")
    assert t["organization_id"] == ORG_A
    assert t["thread_id"] == tid
    assert t["model"] == "echo"
    assert t["status"] == 200
    assert t["method"] == "POST" and t["path"] == "/v1/model/response"

    g = _request_line(lines, "log-get")
    assert (g["organization_id"], g["thread_id"], g["status"]) == (ORG_A, tid, 200)
    assert "model" not in g  # nothing of the previous request leaks into this one

    m = _request_line(lines, "log-bad-model")
    assert (m["organization_id"], m["model"], m["status"]) == (ORG_B, "nope", 404)
    assert "thread_id" not in m

    n = _request_line(lines, "log-nokey")
    assert n["status"] == 401
    assert "organization_id" not in n

    h = _request_line(lines, "log-health")
    assert h["status"] == 200
    assert not {"organization_id", "thread_id", "model"} & set(h)


async def test_internal_error_is_logged_with_the_request_id(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    async with running(make_settings(tmp_path), providers={"echo": BrokenProvider()}) as client:
        capsys.readouterr()
        await say(Api(client, KEY_A), "x", "log-500")
        out = capsys.readouterr().out
    lines = _lines(out)
    assert _request_line(lines, "log-500")["status"] == 500
    errors = [x for x in lines if x.get("request_id") == "log-500" and x.get("level") == "error"]
    assert errors, lines
    # The operator (not the caller) gets the detail.
    assert SECRET_DETAIL in json.dumps(errors)


async def test_api_keys_never_appear_in_logs_or_bodies(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bodies: list[str] = []
    header_values: list[str] = []

    def keep(r: httpx.Response) -> None:
        bodies.append(r.text)
        header_values.extend(f"{k}: {v}" for k, v in r.headers.items())

    settings = make_settings(tmp_path)
    async with running(settings) as client:
        a, b = Api(client, KEY_A), Api(client, KEY_B)
        tid = ok(await a.say("hello", thread=uid()))["thread_id"]
        for r in [
            await a.say("again", thread=tid),
            await a.say("streamed", thread=tid, stream=True),
            await b.say("hi"),
            await a.get("/v1/threads"),
            await a.get(f"/v1/threads/{tid}/messages"),
            await b.thread(tid),
            await a.say("bad", model="gpt-4.1"),
            await a.say("bad", model="nope"),
            await a.say("bad", temperature=7),
            await a.post(
                "/v1/model/response", content=b"{not json", headers={"Content-Type": "application/json"}
            ),
            await a.say("bad", organization_id=ORG_B),
            await a.get("/v1/threads", params={"limit": "abc"}),
            await client.get("/v1/threads"),
            await client.get("/v1/threads", headers={"Authorization": f"Bearer {KEY_B}"}),
            await client.get("/v1/threads", headers={"Authorization": f"Basic {KEY_A}"}),
            await client.get("/v1/threads", headers={"Authorization": KEY_A}),
            await client.get("/v1/threads", headers={"X-API-Key": KEY_A[:-1]}),
            await client.get("/v1/threads", headers={"X-API-Key": KEY_A + "x"}),
            await client.get("/v1/threads", headers={"X-API-Key": "x" + KEY_B}),
            await client.get("/v1/threads", headers={"Authorization": f"Bearer {KEY_B[1:]}"}),
            await client.get("/v1/threads", headers={"X-API-Key": f" {KEY_A} "}),
            await client.post("/v1/threads", json={"id": "x"}, headers={"X-API-Key": KEY_A.upper()}),
            await client.get("/nope", headers={"X-API-Key": KEY_A}),
            await client.request("PUT", "/v1/threads", headers={"X-API-Key": KEY_A}),
            await client.get("/health/ready", headers={"X-API-Key": KEY_A}),
            await client.get("/schema/openapi.json", headers={"X-API-Key": KEY_A}),
        ]:
            keep(r)
    async with running(settings, providers={"echo": BrokenProvider()}) as client:
        a = Api(client, KEY_A)
        r500 = await a.say("x")
        assert r500.status_code == 500
        keep(r500)
        keep(await client.post("/v1/model/response", json={}, headers={"Authorization": f"Bearer {KEY_B}"}))

    out = capsys.readouterr()
    logged = out.out + out.err
    assert '"event": "request"' in logged  # the capture did see the logs
    assert '"unhandled_error"' in logged
    for key in (KEY_A, KEY_B):
        # Any substantial piece of a key would be a leak, not only the whole key.
        for piece in {key, key[:-1], key[1:], key.upper(), key[len(key) // 2 - 6 : len(key) // 2 + 6]}:
            assert piece not in logged, piece
            for text in bodies + header_values:
                assert piece not in text, (piece, text[:300])
    assert "Settings(" not in logged
