"""POST /v1/model/response (SPEC §3): what the provider receives (history, system messages,
instructions), `threadState`, and `previousResponseId` chains, branches, scoping and expiry."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import KEY_A, Api, err, make_settings, ok, running, uid, user
from tests.e2e.responses_helpers import FakeClock, Recorder, gateway, texts, turn

# -- what the provider receives -----------------------------------------------------------------


async def test_provider_receives_history_in_order_then_inputs_system_kept(tmp_path: Path) -> None:
    rec = Recorder()
    async with gateway(tmp_path, providers={"echo": rec}) as a:
        tid = uid()
        ok(await turn(a, [{"role": "system", "content": "You are terse."}, user("first")], thread=tid))
        assert rec.last == [("system", "You are terse."), ("user", "first")]
        ok(await a.say("second", thread=tid))
        ok(await turn(a, [user("third-a"), user("third-b")], thread=tid))
        assert rec.last == [
            ("system", "You are terse."),
            ("user", "first"),
            ("assistant", "ok"),
            ("user", "second"),
            ("assistant", "ok"),
            ("user", "third-a"),
            ("user", "third-b"),
        ]


async def test_instructions_reach_the_model_once_and_are_not_saved(tmp_path: Path) -> None:
    rec = Recorder()
    async with gateway(tmp_path, providers={"echo": rec}) as a:
        tid = uid()
        ok(await a.say("hi", thread=tid, instructions="Answer in French."))
        got = rec.last
        assert got.count(("system", "Answer in French.")) == 1
        assert [m for m in got if m != ("system", "Answer in French.")] == [("user", "hi")]
        assert texts(await a.messages(tid)) == [("user", "hi"), ("assistant", "ok")]
        assert ok(await a.thread(tid))["message_count"] == 2
        ok(await a.say("again", thread=tid))
        assert rec.last == [("user", "hi"), ("assistant", "ok"), ("user", "again")]


# -- threadState --------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "code"), [("locked", "THREAD_LOCKED"), ("archived", "THREAD_ARCHIVED")])
async def test_thread_state_closes_the_thread_after_saving_the_final_turn(
    a: Api, state: str, code: str
) -> None:
    tid = uid()
    ok(await a.say("one", thread=tid))
    final = ok(await a.say("goodbye", thread=tid, threadState=state))
    assert final["output_text"] == "one\ngoodbye"
    thread = ok(await a.thread(tid))
    assert (thread["state"], thread["message_count"]) == (state, 4)
    before = await a.messages(tid)
    assert texts(before)[-2:] == [("user", "goodbye"), ("assistant", "one\ngoodbye")]
    err(await a.say("more", thread=tid), 409, code)
    assert await a.messages(tid) == before
    assert ok(await a.thread(tid))["message_count"] == 4


async def test_thread_state_on_the_creating_turn_saves_it_then_locks(a: Api) -> None:
    tid = uid()
    ok(await a.say("only", thread=tid, threadState="locked"))
    thread = ok(await a.thread(tid))
    assert (thread["state"], thread["message_count"]) == ("locked", 2)
    err(await a.say("more", thread=tid), 409, "THREAD_LOCKED")


async def test_thread_state_open_on_an_open_thread_is_a_no_op(a: Api) -> None:
    tid = uid()
    ok(await a.say("one", thread=tid, threadState="open"))
    ok(await a.say("two", thread=tid, threadState="open"))
    thread = ok(await a.thread(tid))
    assert (thread["state"], thread["message_count"]) == ("open", 4)


# -- previousResponseId -------------------------------------------------------------------------


async def test_previous_response_chain_of_three_sees_everything(a: Api) -> None:
    r1 = ok(await a.say("one"))
    r2 = ok(await a.say("two", previousResponseId=r1["id"]))
    assert (r2["thread_id"], r2["previous_response_id"]) == (None, r1["id"])
    assert r2["output_text"] == "one\ntwo"
    r3 = ok(await a.say("three", previousResponseId=r2["id"]))
    assert (r3["thread_id"], r3["previous_response_id"]) == (None, r2["id"])
    assert r3["output_text"] == "one\ntwo\nthree"
    # The context of r2: "one" (1), "one" (1), "two" (1).
    assert r2["usage"]["input_tokens"] == 3


async def test_previous_response_branches_and_leaves_the_thread_alone(a: Api) -> None:
    tid = uid()
    r1 = ok(await a.say("one", thread=tid))
    ok(await a.say("two", previousResponseId=r1["id"]))
    branch = ok(await a.say("other", previousResponseId=r1["id"]))
    assert branch["output_text"] == "one\nother"
    assert branch["previous_response_id"] == r1["id"]
    assert branch["thread_id"] is None
    thread = ok(await a.thread(tid))
    assert thread["message_count"] == 2
    assert texts(await a.messages(tid)) == [("user", "one"), ("assistant", "one")]
    assert thread["usage"] == {
        "input_tokens": r1["usage"]["input_tokens"],
        "output_tokens": r1["usage"]["output_tokens"],
    }


async def test_previous_response_does_not_carry_earlier_instructions(tmp_path: Path) -> None:
    rec = Recorder()
    async with gateway(tmp_path, providers={"echo": rec}) as a:
        r1 = ok(await a.say("hi", instructions="SECRET RULES"))
        assert ("system", "SECRET RULES") in rec.last
        r2 = ok(await a.say("next", previousResponseId=r1["id"]))
        assert rec.last == [("user", "hi"), ("assistant", "ok"), ("user", "next")]
        ok(await a.say("last", previousResponseId=r2["id"], instructions="NEW"))
        assert [m for m in rec.last if m != ("system", "NEW")] == [
            ("user", "hi"),
            ("assistant", "ok"),
            ("user", "next"),
            ("assistant", "ok"),
            ("user", "last"),
        ]


async def test_previous_response_conflicts_with_thread_fields(a: Api) -> None:
    r1 = ok(await a.say("one"))
    for extra in ({"thread": uid()}, {"thread_id": uid()}, {"threadState": "locked"}):
        err(await a.say("x", previousResponseId=r1["id"], **extra), 400, "CONFLICTING_PARAMETERS")
    assert ok(await a.thread(r1["thread_id"]))["message_count"] == 2


async def test_previous_response_unknown_or_of_another_org_is_not_found(a: Api, b: Api) -> None:
    r1 = ok(await a.say("one"))
    unknown = err(await a.say("x", previousResponseId="resp_doesnotexist"), 404, "RESPONSE_NOT_FOUND")
    foreign = err(await b.say("x", previousResponseId=r1["id"]), 404, "RESPONSE_NOT_FOUND")
    assert unknown["type"] == foreign["type"]


async def test_previous_response_expires_after_its_ttl(tmp_path: Path) -> None:
    clock = FakeClock()
    async with gateway(tmp_path, clock=clock, response_ttl_s=60) as a:
        r1 = ok(await a.say("one"))
        clock.advance(59)
        r2 = ok(await a.say("two", previousResponseId=r1["id"]))
        clock.advance(2)
        err(await a.say("late", previousResponseId=r1["id"]), 404, "RESPONSE_NOT_FOUND")
        # r2 was made 2 s ago: still alive, and it still carries what r1 saw.
        r3 = ok(await a.say("three", previousResponseId=r2["id"]))
        assert r3["output_text"] == "one\ntwo\nthree"
        clock.advance(60)
        err(await a.say("later", previousResponseId=r2["id"]), 404, "RESPONSE_NOT_FOUND")


async def test_previous_response_of_a_thread_turn_is_rebuilt_from_the_store_without_a_cache(
    tmp_path: Path,
) -> None:
    from gateway.store.cache import NullCache

    async with running(make_settings(tmp_path), cache=NullCache()) as client:
        a = Api(client, KEY_A)
        tid = uid()
        ok(
            await a.post(
                "/v1/model/response",
                json={
                    "model": "echo",
                    "thread": tid,
                    "inputs": [{"role": "system", "content": "be brief"}, user("one")],
                },
            )
        )
        r2 = ok(await a.say("two", thread=tid))
        ok(await a.say("three", thread=tid))  # after r2: not part of what r2 saw
        r4 = ok(
            await a.post(
                "/v1/model/response",
                json={"model": "echo", "previousResponseId": r2["id"], "inputs": [user("branch")]},
            )
        )
        # r2 saw: the system message, "one", its answer, "two"; then r2's own answer; then "branch".
        assert r4["output_text"].splitlines() == ["one", "two", "branch"]
