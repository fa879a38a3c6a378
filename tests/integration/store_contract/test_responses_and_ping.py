"""The store contract for saved responses (a thread turn's stored by reference, expiry, scoping) and
the backend's ping."""

from __future__ import annotations

import msgspec
import pytest

from gateway.core.records import MessageRecord, Usage
from gateway.core.rules import apply_turn
from gateway.errors import StoreUnavailable
from gateway.ids import new_id
from gateway.store.protocols import Backend, TurnWrite
from tests.integration.store_contract.helpers import LIMITS, T0, response, thread, turn


async def test_thread_response_is_stored_by_reference_and_read_back_whole(store: Backend) -> None:
    tid = "ref"
    await turn(
        store, "o1", tid, [("system", "s"), ("user", "u1"), ("assistant", "a1")], create=thread(tid=tid)
    )
    await turn(store, "o1", tid, [("user", "u2"), ("assistant", "a2")])
    rid = new_id("resp")
    msgs = [
        MessageRecord(id=new_id("msg"), role=r, texts=(t,), response_id=rid, created_us=T0)  # type: ignore[arg-type]
        for r, t in [("user", "u3a"), ("user", "u3b"), ("assistant", "a3")]
    ]
    # The model saw the system message and the last turn (seqs 1, 4, 5), then the two new inputs.
    ref = response("o1", rid, thread_id=tid)
    ref = msgspec.structs.replace(ref, context=(), context_ref=((1, 1), (4, 5)))
    await store.threads.append_turn(
        TurnWrite(
            org="o1",
            thread_id=tid,
            create=None,
            messages=msgs,
            response=ref,
            update=lambda t: apply_turn(t, adding=3, usage=Usage(), next_state=None, limits=LIMITS, at_us=T0),
            at_us=T0,
        )
    )
    got = await store.responses.get_response("o1", rid, T0)
    assert got is not None and got.context_ref == ((1, 1), (4, 5), (6, 7))
    assert [(m.role, m.texts[0]) for m in got.context] == [
        ("system", "s"),
        ("user", "u2"),
        ("assistant", "a2"),
        ("user", "u3a"),
        ("user", "u3b"),
    ]
    assert await store.responses.get_response("o2", rid, T0) is None


async def test_responses_expire_and_are_scoped(store: Backend) -> None:
    r = response("o1")
    await store.responses.save_response(r)
    assert await store.responses.get_response("o1", r.id, T0) == r
    assert await store.responses.get_response("o2", r.id, T0) is None
    assert await store.responses.get_response("o1", r.id, r.expires_us) is None


async def test_ping_answers_while_open_and_refuses_once_closed(store: Backend) -> None:
    assert await store.ping() is None
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.ping()
