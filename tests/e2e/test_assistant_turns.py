"""Assistants on turns and threads (SPEC §11): the assistant's instructions first, its model as the
default, a thread bound when it is created (by a turn or `POST /v1/threads`), a contradicting
`assistant_id` refused, an unknown one 404, thread lists by assistant, and the detach on delete;
on the fast path, the streamed route and `previousResponseId` alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import KEY_B, Api, err, ok, sse_events, uid, user
from tests.e2e.responses_helpers import Recorder, gateway

A = "/v1/assistants"
TURN = "/v1/model/response"


class Gateway:
    """Organization A's caller, with `echo` and `openai` both recorders (so a test sees which
    model a turn went to, and exactly what it was sent)."""

    def __init__(self, api: Api, echo: Recorder, openai: Recorder) -> None:
        self.api, self.echo, self.openai = api, echo, openai

    async def assistant(self, **fields: Any) -> str:
        r = await self.api.post(A, json={"name": "Helper", **fields})
        assert r.status_code == 201, r.text
        aid: str = r.json()["id"]
        return aid

    async def turn(self, text: str, **fields: Any) -> dict[str, Any]:
        return ok(await self.api.post(TURN, json={"inputs": [user(text)], **fields}))


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Gateway]:
    echo, openai = Recorder(reply="from echo"), Recorder(reply="from openai")
    async with gateway(tmp_path, providers={"echo": echo, "openai": openai}) as api:
        yield Gateway(api, echo, openai)


async def test_the_assistants_instructions_come_first_and_bind_the_thread(gw: Gateway) -> None:
    aid = await gw.assistant(instructions="You are Support.")
    first = await gw.turn("hi", model="echo", assistant_id=aid, instructions="Today only: be brief.")
    assert first["assistant_id"] == aid
    assert gw.echo.last == [
        ("system", "You are Support."),
        ("system", "Today only: be brief."),
        ("user", "hi"),
    ]
    tid = first["thread_id"]
    thread = ok(await gw.api.thread(tid))
    assert thread["assistant_id"] == aid
    # The next turn names only the thread: its assistant's instructions still come first, and
    # neither instruction was saved as a message.
    second = await gw.turn("again", model="echo", thread_id=tid)
    assert second["assistant_id"] == aid
    assert gw.echo.last == [
        ("system", "You are Support."),
        ("user", "hi"),
        ("assistant", "from echo"),
        ("user", "again"),
    ]
    assert [m["role"] for m in await gw.api.messages(tid)] == ["user", "assistant", "user", "assistant"]


async def test_the_assistants_instructions_lead_the_threads_own_system_messages(gw: Gateway) -> None:
    aid = await gw.assistant(instructions="Profile.")
    tid = uid()
    await gw.turn("x", model="echo", thread_id=tid, assistant_id=aid)
    ok(
        await gw.api.post(
            TURN,
            json={
                "model": "echo",
                "thread_id": tid,
                "inputs": [user("y"), {"role": "system", "content": "Saved rule."}],
            },
        )
    )
    await gw.turn("z", model="echo", thread_id=tid)
    assert gw.echo.last[0] == ("system", "Profile.")
    assert gw.echo.last.count(("system", "Saved rule.")) == 1


async def test_the_assistants_model_is_the_default_and_the_request_may_override_it(gw: Gateway) -> None:
    aid = await gw.assistant(model="openai/gpt-test", instructions="Profile.")
    answer = await gw.turn("hi", assistant_id=aid)
    assert answer["model"] == "openai/gpt-test" and answer["output_text"] == "from openai"
    assert gw.openai.requests[-1].model == "gpt-test" and gw.echo.requests == []
    # On the thread it made, without naming the assistant or a model: still the assistant's model.
    again = await gw.turn("more", thread_id=answer["thread_id"])
    assert again["model"] == "openai/gpt-test"
    assert ok(await gw.api.thread(answer["thread_id"]))["last_model_used"] == "openai/gpt-test"
    # A model named by the request wins; the instructions stay.
    override = await gw.turn("echo please", model="echo", thread_id=answer["thread_id"])
    assert override["model"] == "echo" and gw.echo.last[0] == ("system", "Profile.")


async def test_an_assistant_without_a_model_falls_back_to_the_default_model(tmp_path: Path) -> None:
    echo, openai = Recorder(reply="from echo"), Recorder(reply="from openai")
    providers = {"echo": echo, "openai": openai}
    async with gateway(tmp_path, providers=providers, default_model="openai/fallback") as api:
        gw = Gateway(api, echo, openai)
        aid = await gw.assistant()
        answer = await gw.turn("hi", assistant_id=aid)
        assert answer["model"] == "openai/fallback" and openai.requests[-1].model == "fallback"


async def test_model_is_still_required_when_nothing_can_give_one(gw: Gateway) -> None:
    err(await gw.api.post(TURN, json={"inputs": [user("hi")]}), 422, "VALIDATION_ERROR")
    assert ok(await gw.api.get("/v1/threads"))["data"] == []


async def test_an_assistant_id_contradicting_the_threads_is_400_and_saves_nothing(gw: Gateway) -> None:
    one, two = await gw.assistant(name="one"), await gw.assistant(name="two")
    tid = (await gw.turn("hi", model="echo", assistant_id=one))["thread_id"]
    plain = (await gw.turn("plain", model="echo"))["thread_id"]
    for thread, named in [(tid, two), (plain, one)]:
        for stream in (False, True):
            r = await gw.api.post(
                TURN,
                json={
                    "model": "echo",
                    "thread_id": thread,
                    "assistant_id": named,
                    "stream": stream,
                    "inputs": [user("x")],
                },
            )
            assert err(r, 400, "CONFLICTING_PARAMETERS")["details"]["assistant_id"] == named
    assert ok(await gw.api.thread(tid))["message_count"] == 2
    assert ok(await gw.api.thread(plain))["message_count"] == 2
    # Naming the thread's own assistant is no contradiction (camelCase too).
    assert (await gw.turn("ok", model="echo", thread_id=tid, assistantId=one))["assistant_id"] == one
    conflict = await gw.api.post(
        TURN, json={"model": "echo", "assistant_id": one, "assistantId": two, "inputs": [user("x")]}
    )
    err(conflict, 400, "CONFLICTING_PARAMETERS")


async def test_an_unknown_or_another_organizations_assistant_is_404(gw: Gateway) -> None:
    r = await gw.api.post(TURN, json={"model": "echo", "assistant_id": "asst_nope", "inputs": [user("x")]})
    assert err(r, 404, "ASSISTANT_NOT_FOUND")["message"] == "Assistant 'asst_nope' was not found."
    beta = Api(gw.api.client, KEY_B)
    r = await beta.post(A, json={"name": "beta's"})
    theirs = r.json()["id"]
    for body in (
        {"model": "echo", "assistant_id": theirs, "inputs": [user("x")]},
        {"model": "echo", "assistant_id": theirs, "stream": True, "inputs": [user("x")]},
    ):
        e = err(await gw.api.post(TURN, json=body), 404, "ASSISTANT_NOT_FOUND")
        assert e["message"] == f"Assistant '{theirs}' was not found."
    err(await gw.api.post("/v1/threads", json={"assistant_id": theirs}), 404, "ASSISTANT_NOT_FOUND")
    assert ok(await gw.api.get("/v1/threads"))["data"] == []


async def test_post_threads_binds_the_assistant_and_the_list_filters_by_it(gw: Gateway) -> None:
    one, two = await gw.assistant(name="one", instructions="One's rules."), await gw.assistant(name="two")
    made = ok_201(await gw.api.post("/v1/threads", json={"id": uid(), "assistant_id": one}))
    assert made["assistant_id"] == one
    by_turn = (await gw.turn("hi", model="echo", assistant_id=one))["thread_id"]
    other = (await gw.turn("hi", model="echo", assistant_id=two))["thread_id"]
    plain = (await gw.turn("hi", model="echo"))["thread_id"]
    listed = ok(await gw.api.get("/v1/threads", params={"assistant_id": one, "include_total": "true"}))
    assert [t["id"] for t in listed["data"]] == [by_turn, made["id"]] and listed["total"] == 2
    assert [t["id"] for t in ok(await gw.api.get("/v1/threads", params={"assistant_id": two}))["data"]] == [
        other
    ]
    assert len(ok(await gw.api.get("/v1/threads"))["data"]) == 4 and plain
    # A turn on the thread made by POST /v1/threads gets its assistant's instructions.
    await gw.turn("first", model="echo", thread_id=made["id"])
    assert gw.echo.last == [("system", "One's rules."), ("user", "first")]


async def test_patch_may_repeat_the_threads_assistant_but_not_change_it(gw: Gateway) -> None:
    one, two = await gw.assistant(name="one"), await gw.assistant(name="two")
    tid = ok_201(await gw.api.post("/v1/threads", json={"assistant_id": one}))["id"]
    assert (
        ok(await gw.api.patch(f"/v1/threads/{tid}", json={"assistant_id": one, "title": "t"}))["title"] == "t"
    )
    err(await gw.api.patch(f"/v1/threads/{tid}", json={"assistant_id": two}), 400, "CONFLICTING_PARAMETERS")
    plain = ok_201(await gw.api.post("/v1/threads", json={}))["id"]
    err(await gw.api.patch(f"/v1/threads/{plain}", json={"assistant_id": one}), 400, "CONFLICTING_PARAMETERS")
    assert ok(await gw.api.thread(tid))["assistant_id"] == one
    assert ok(await gw.api.thread(plain))["assistant_id"] is None


async def test_deleting_the_assistant_detaches_its_threads_which_go_on_without_it(gw: Gateway) -> None:
    aid = await gw.assistant(instructions="Gone soon.", model="openai/gpt-test")
    tids = [(await gw.turn(f"t{i}", assistant_id=aid))["thread_id"] for i in range(2)]
    gone = ok(await gw.api.delete(f"{A}/{aid}"))
    assert gone["detached_threads"] == 2
    for tid in tids:
        thread = ok(await gw.api.thread(tid))
        assert thread["assistant_id"] is None and thread["message_count"] == 2
    assert ok(await gw.api.get("/v1/threads", params={"assistant_id": aid}))["data"] == []
    # The thread goes on without the profile: no instructions, no assistant; naming it is 404.
    answer = await gw.turn("after", model="echo", thread_id=tids[0])
    assert answer["assistant_id"] is None
    assert gw.echo.last == [("user", "t0"), ("assistant", "from openai"), ("user", "after")]
    err(
        await gw.api.post(
            TURN, json={"model": "echo", "thread_id": tids[1], "assistant_id": aid, "inputs": [user("x")]}
        ),
        404,
        "ASSISTANT_NOT_FOUND",
    )


async def test_the_streamed_turn_carries_the_assistant_too(gw: Gateway) -> None:
    aid = await gw.assistant(instructions="Stream rules.", model="openai/gpt-test")
    r = await gw.api.post(TURN, json={"assistant_id": aid, "stream": True, "inputs": [user("s")]})
    assert r.status_code == 200, r.text
    events = dict(sse_events(r.text))
    assert events["response.created"]["response"]["assistant_id"] == aid
    done = events["response.completed"]["response"]
    assert done["assistant_id"] == aid and done["model"] == "openai/gpt-test"
    assert gw.openai.last == [("system", "Stream rules."), ("user", "s")]
    assert ok(await gw.api.thread(done["thread_id"]))["assistant_id"] == aid


async def test_a_response_chain_with_an_assistant_gets_its_profile_but_no_thread(gw: Gateway) -> None:
    aid = await gw.assistant(instructions="Chain rules.", model="openai/gpt-test")
    first = await gw.turn("hi", model="echo")
    chained = await gw.turn("next", previousResponseId=first["id"], assistant_id=aid)
    assert chained["thread_id"] is None and chained["assistant_id"] == aid
    assert chained["model"] == "openai/gpt-test"
    assert gw.openai.last == [
        ("system", "Chain rules."),
        ("user", "hi"),
        ("assistant", "from echo"),
        ("user", "next"),
    ]


def ok_201(r: Any) -> dict[str, Any]:
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body
