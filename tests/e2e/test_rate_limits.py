"""Per-key rate limits (SPEC §15): `GATEWAY_RATE_LIMIT_RPM` and `GATEWAY_RATE_LIMIT_TPM`, shared by
the workers of a gateway (Redis, else the store), answered 429 `RATE_LIMITED` with `Retry-After` and
`X-RateLimit-*` on every door in its own shape, on its fast path and its framework routes alike.

The window is the minute of the clock. A burst is checked minute by minute (by `X-RateLimit-Reset`,
the minute's end), so a test whose requests straddle a minute's end still holds; scenarios that need
one minute throughout start with a few seconds of it left (`minute_with_room`).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import openai
import pytest
from backboard import BackboardClient
from backboard.exceptions import BackboardRateLimitError

from gateway.app import create_app
from gateway.settings import Settings, SettingsError, load_settings
from tests.conftest import KEY_A, ORG_A, ORG_B, make_settings, running, store_independent, user
from tests.fakes.server import serve
from tests.gateway_process import GatewayProcess
from tests.services import RedisServer

RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


def fresh_key(tag: str = "a") -> str:
    # Each test its own keys: counters (in a Redis shared by the suite, too) are per key.
    return f"ak_rl_{tag}_{uuid.uuid4().hex}"


async def minute_with_room(room_s: float) -> None:
    """Returns with at least `room_s` of the current minute left: at once, or as the next begins."""
    left = 60 - time.time() % 60
    if left < room_s:
        await asyncio.sleep(left + 0.01)


def limited(data_dir: Path, keys: dict[str, str], **limits: Any) -> Settings:
    """The suite's settings of the test backend with these keys only and these limits."""
    return msgspec.structs.replace(make_settings(data_dir), api_keys=keys, **limits)


def turn_body(text: str = "hello") -> dict[str, Any]:
    return {"model": "echo", "inputs": [user(text)]}


def check_refusal(r: httpx.Response, limit: int) -> int:
    """A 429's headers: the limit, none remaining, the minute's end, and the seconds until it."""
    assert r.status_code == 429, r.text
    assert r.headers["x-ratelimit-limit"] == str(limit)
    assert r.headers["x-ratelimit-remaining"] == "0"
    reset = int(r.headers["x-ratelimit-reset"])
    assert reset % 60 == 0
    retry_after = int(r.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert abs(reset - time.time() - retry_after) <= 2
    return reset


def check_minutes(answers: list[httpx.Response], limit: int) -> None:
    """In each minute, exactly the first `limit` requests succeeded (remaining `limit`-1 down to 0,
    each once) and every other one was refused; at least one minute refused some."""
    by_minute: dict[int, list[httpx.Response]] = defaultdict(list)
    for r in answers:
        by_minute[int(r.headers["x-ratelimit-reset"])].append(r)
    refused_somewhere = False
    for group in by_minute.values():
        ok = [r for r in group if r.status_code == 200]
        no = [r for r in group if r.status_code != 200]
        assert len(ok) == min(limit, len(group)), [r.status_code for r in group]
        assert sorted(int(r.headers["x-ratelimit-remaining"]) for r in ok) == list(
            range(limit - len(ok), limit)
        )
        assert all(r.headers["x-ratelimit-limit"] == str(limit) for r in ok)
        for r in no:
            check_refusal(r, limit)
            body = r.json()
            assert body["success"] is False
            assert body["error"]["code"] == "RATE_LIMITED" and body["error"]["status"] == 429
            assert body["error"]["type"] == "rate_limit_error"
        refused_somewhere |= bool(no)
    assert refused_somewhere


async def refused_after(send: Callable[[], Awaitable[Any]], limit: int, tries: int) -> list[Any]:
    """Send until one is refused (at most `tries`); what was answered, the refusal last."""
    answers = []
    for _ in range(tries):
        answers.append(await send())
        if getattr(answers[-1], "status_code", 200) == 429:
            return answers
    raise AssertionError(f"no refusal in {tries} requests")


# -- across two workers ---------------------------------------------------------------------------


def make_store_key(data_dir: Path, org: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_DATA_DIR"] = str(data_dir)
    made = subprocess.run(
        [sys.executable, "-m", "gateway", "keys", "create", "--org", org],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(line.split(": ", 1) for line in made.stdout.splitlines())["key"]


@pytest.fixture(params=["store", "redis"])
def two_workers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[list[str], dict[str, str]]]:
    """Two replicas of the gateway, of two workers each, with RPM 4, on one store (SQLite), counting
    there or in one Redis: their URLs, and the keys."""
    data = tmp_path / "data"
    data.mkdir()
    # The environment's key (GATEWAY_API_KEYS: KEY_A) and two keys kept in the store.
    keys = {"env": KEY_A, "stored": make_store_key(data, "org_stored"), "other": make_store_key(data, ORG_B)}
    extra = {"GATEWAY_WORKERS": "2", "GATEWAY_RATE_LIMIT_RPM": "4"}
    redis = None
    if request.param == "redis":
        redis = RedisServer()
        redis.start()
        extra["GATEWAY_REDIS_URL"] = redis.url
    replicas = [GatewayProcess(data, tmp_path / f"gateway{i}.log", extra) for i in range(2)]
    try:
        for replica in replicas:
            replica.wait_ready()
        yield [replica.url for replica in replicas], keys
    finally:
        for replica in replicas:
            replica.stop()
        if redis is not None:
            redis.stop()
        logs = "".join(replica.log.read_text() for replica in replicas)
        assert not any(k in logs for k in keys.values())  # no key in any log line
    counted = "redis" if redis is not None else "the store"
    assert f"; rate limits per key: 4 requests a minute (counted in {counted})\n" in logs


async def test_workers_and_replicas_admit_exactly_the_rpm_of_a_key_per_minute(
    two_workers: tuple[list[str], dict[str, str]],
) -> None:
    urls, keys = two_workers
    await minute_with_room(10)

    async def one(key: str, i: int) -> httpx.Response:
        # Both replicas in turn, a connection each so that the requests spread over the workers of
        # each too; turns (the fast path) and thread lists (the framework's route) count alike.
        url = urls[i // 2 % 2]
        async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=30) as http:
            if i % 2:
                return await http.get("/v1/threads")
            return await http.post("/v1/model/response", json=turn_body(f"burst {i}"))

    burst = await asyncio.gather(*(one(keys["env"], i) for i in range(13)))
    check_minutes(list(burst), 4)
    # Another key has a count of its own.
    other = await one(keys["other"], 0)
    assert other.status_code == 200 and other.headers["x-ratelimit-remaining"] == "3"
    # A key kept in the store is limited as the environment's keys are.
    stored = await asyncio.gather(*(one(keys["stored"], i) for i in range(9)))
    check_minutes(list(stored), 4)


# -- each door's shape ----------------------------------------------------------------------------


async def test_freddy_door_refuses_in_its_envelope_on_both_paths(tmp_path: Path) -> None:
    key = fresh_key()
    async with running(limited(tmp_path, {key: ORG_A}, rate_limit_rpm=2)) as client:
        headers = {"X-API-Key": key}

        async def turn() -> httpx.Response:
            return await client.post("/v1/model/response", headers=headers, json=turn_body())

        answers = await refused_after(turn, 2, tries=5)
        refused = answers[-1]
        reset = check_refusal(refused, 2)
        same_minute = [r for r in answers[:-1] if r.headers["x-ratelimit-reset"] == str(reset)]
        assert [r.status_code for r in same_minute] == [200, 200]
        assert [r.headers["x-ratelimit-remaining"] for r in same_minute] == ["1", "0"]
        error = refused.json()["error"]
        assert refused.json()["success"] is False
        assert error["code"] == "RATE_LIMITED" and error["type"] == "rate_limit_error"
        assert error["status"] == 429 and error["trace_id"] == refused.headers["x-request-id"]
        assert "(requests per minute: 2)" in error["message"]
        assert error["details"]["limit"] == 2 and error["details"]["unit"] == "requests_per_minute"
        assert error["details"]["retry_after_s"] == int(refused.headers["retry-after"])
        # The framework's routes (the guard) refuse the same key in the same envelope.
        listed = await client.get("/v1/threads", headers=headers)
        if listed.status_code == 200:  # a new minute began: use it up again
            listed = (await refused_after(lambda: client.get("/v1/threads", headers=headers), 2, 4))[-1]
        check_refusal(listed, 2)
        assert listed.json()["error"]["code"] == "RATE_LIMITED"


async def test_backboard_door_refuses_with_detail_and_the_sdk_raises_its_rate_limit_error(
    tmp_path: Path,
) -> None:
    key = fresh_key()
    with serve(create_app(limited(tmp_path, {key: ORG_A}, rate_limit_rpm=1)), lifespan="on") as url:
        async with BackboardClient(api_key=key, base_url=f"{url}/api") as client:
            answer = await client.send_message("hello backboard")  # the door's fast path
            assert answer.content
            try:
                await client.send_message("hello again")
            except BackboardRateLimitError as exc:
                refused = exc
            else:  # a new minute began between the two: the next one is refused
                with pytest.raises(BackboardRateLimitError) as raised:
                    await client.send_message("and again")
                refused = raised.value
            assert refused.status_code == 429
            assert "(requests per minute: 1)" in str(refused)
        async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}) as http:
            listed = await http.get("/api/threads")  # a framework route of the door
            if listed.status_code == 200:  # a new minute began: its one request is used now
                listed = await http.get("/api/threads")
            check_refusal(listed, 1)
            detail = listed.json()["detail"]
            assert listed.json() == {"detail": detail} and "(requests per minute: 1)" in detail


async def test_openai_door_refuses_in_openai_shape_and_the_sdk_raises_rate_limit_error(
    tmp_path: Path,
) -> None:
    key = fresh_key()
    with serve(create_app(limited(tmp_path, {key: ORG_A}, rate_limit_rpm=1)), lifespan="on") as url:
        async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30) as client:

            async def create() -> Any:
                try:
                    return await client.responses.create(model="echo", input="hello openai")
                except openai.RateLimitError as exc:
                    return exc

            answers = await refused_after(create, 1, tries=3)
            assert answers[0].output_text  # admitted: the SDK's response
            refused = answers[-1]
            assert isinstance(refused, openai.RateLimitError)
            assert refused.status_code == 429 and refused.code == "rate_limit_exceeded"
            assert refused.type == "rate_limit_error"
            assert isinstance(refused.body, dict)
            assert set(refused.body) == {"message", "type", "param", "code"}
            assert refused.body["param"] is None
            assert "(requests per minute: 1)" in refused.body["message"]
            check_refusal(refused.response, 1)
            # The framework's routes of the door (conversations) refuse alike.
            with pytest.raises(openai.RateLimitError) as conv:
                await client.conversations.create()
            assert conv.value.code == "rate_limit_exceeded"
            check_refusal(conv.value.response, 1)


# -- tokens per minute ----------------------------------------------------------------------------


async def test_tokens_of_turns_refuse_the_key_once_the_minutes_tokens_are_used(tmp_path: Path) -> None:
    key, other = fresh_key("a"), fresh_key("b")
    settings = limited(tmp_path, {key: ORG_A, other: ORG_B}, rate_limit_tpm=40)
    async with running(settings) as client:
        await minute_with_room(15)
        headers = {"X-API-Key": key}
        first = await client.post("/v1/model/response", headers=headers, json=turn_body("a few tokens here"))
        assert first.status_code == 200 and first.headers["x-ratelimit-remaining"] == "40"
        used = first.json()["usage"]["input_tokens"] + first.json()["usage"]["output_tokens"]
        assert 0 < used < 40
        # Streamed turns are counted too, when they end.
        streamed = await client.post(
            "/v1/model/response", headers=headers, json={**turn_body("more tokens, streamed"), "stream": True}
        )
        assert streamed.status_code == 200 and "response.completed" in streamed.text
        assert streamed.headers["x-ratelimit-remaining"] == str(40 - used)
        listed = await client.get("/v1/threads", headers=headers)  # a request without tokens
        used = 40 - int(listed.headers["x-ratelimit-remaining"])
        assert used > 40 - int(streamed.headers["x-ratelimit-remaining"])  # the stream's tokens
        answers = [first, streamed, listed]
        # Turns are admitted while the minute's tokens are under the limit (the last one counted
        # whole, past it); the first request after that is refused.
        while used < 40:
            assert len(answers) < 12
            r = await client.post("/v1/model/response", headers=headers, json=turn_body("x" * 40))
            assert r.status_code == 200 and r.headers["x-ratelimit-remaining"] == str(40 - used)
            used += r.json()["usage"]["input_tokens"] + r.json()["usage"]["output_tokens"]
            answers.append(r)
        refused = await client.get("/v1/threads", headers=headers)
        answers.append(refused)
        check_refusal(refused, 40)
        assert all(r.headers["x-ratelimit-reset"] == refused.headers["x-ratelimit-reset"] for r in answers)
        assert "(tokens per minute: 40)" in refused.json()["error"]["message"]
        assert refused.json()["error"]["details"]["unit"] == "tokens_per_minute"
        # Another key's tokens are its own.
        fine = await client.post("/v1/model/response", headers={"X-API-Key": other}, json=turn_body())
        assert fine.status_code == 200 and fine.headers["x-ratelimit-remaining"] == "40"


# -- what is never limited, and limits off --------------------------------------------------------


async def test_health_is_never_limited_nor_counted(tmp_path: Path) -> None:
    key = fresh_key()
    async with running(limited(tmp_path, {key: ORG_A}, rate_limit_rpm=1)) as client:
        for _ in range(5):
            for path in ("/health", "/health/ready"):
                r = await client.get(path, headers={"X-API-Key": key})
                assert r.status_code == 200
                assert not any(h in r.headers for h in RATE_HEADERS)
        first = await client.get("/v1/threads", headers={"X-API-Key": key})
        assert first.status_code == 200 and first.headers["x-ratelimit-remaining"] == "0"


async def test_without_limits_answers_carry_no_rate_headers(tmp_path: Path) -> None:
    key = fresh_key()
    async with running(limited(tmp_path, {key: ORG_A})) as client:
        for _ in range(3):
            turn = await client.post("/v1/model/response", headers={"X-API-Key": key}, json=turn_body())
            listed = await client.get("/v1/threads", headers={"X-API-Key": key})
            assert turn.status_code == listed.status_code == 200
            assert not any(h in r.headers for r in (turn, listed) for h in RATE_HEADERS)


async def test_store_counters_without_redis(tmp_path: Path) -> None:
    # On the MongoDB run, the counters in MongoDB (the suite's Redis left out), else SQLite's.
    key = fresh_key()
    settings = limited(tmp_path, {key: ORG_A}, rate_limit_rpm=2, redis_url=None)
    async with running(settings) as client:
        answers = await refused_after(
            lambda: client.post("/v1/model/response", headers={"X-API-Key": key}, json=turn_body()), 2, 5
        )
        reset = check_refusal(answers[-1], 2)
        assert [r.status_code for r in answers if r.headers["x-ratelimit-reset"] == str(reset)] == [
            200,
            200,
            429,
        ]


async def test_redis_down_lets_requests_through(tmp_path: Path, redis_server: RedisServer) -> None:
    key = fresh_key()
    settings = limited(tmp_path, {key: ORG_A}, rate_limit_rpm=1, redis_url=redis_server.url)
    async with running(settings) as client:
        headers = {"X-API-Key": key}
        first = await client.post("/v1/model/response", headers=headers, json=turn_body())
        assert first.status_code == 200 and first.headers["x-ratelimit-remaining"] == "0"
        redis_server.stop()
        for _ in range(3):  # over the limit, but the limit cannot be counted: admitted
            turn = await client.post("/v1/model/response", headers=headers, json=turn_body())
            listed = await client.get("/v1/threads", headers=headers)
            assert turn.status_code == listed.status_code == 200
            assert not any(h in r.headers for r in (turn, listed) for h in RATE_HEADERS)


@store_independent
def test_limit_settings_are_read_and_checked_at_start() -> None:
    both = load_settings({"GATEWAY_RATE_LIMIT_RPM": "60", "GATEWAY_RATE_LIMIT_TPM": "10000"})
    assert (both.rate_limit_rpm, both.rate_limit_tpm) == (60, 10_000)
    unset = load_settings({"GATEWAY_RATE_LIMIT_RPM": ""})
    assert (unset.rate_limit_rpm, unset.rate_limit_tpm) == (None, None)
    for var in ("GATEWAY_RATE_LIMIT_RPM", "GATEWAY_RATE_LIMIT_TPM"):
        for raw, mistake in (
            ("0", f"{var} must be positive (leave it unset for no limit)"),
            ("-3", f"{var} must be positive (leave it unset for no limit)"),
            ("lots", f"{var}: expected a whole number, got 'lots'"),
        ):
            with pytest.raises(SettingsError) as refused:
                load_settings({var: raw})
            assert refused.value.mistakes == (mistake,)
