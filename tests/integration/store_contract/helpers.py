"""Shared helpers of the store contract: a fixed clock origin, the limits every backend is opened
with, and records of threads, responses and whole turns to write."""

from __future__ import annotations

import msgspec

from gateway.core.records import MessageRecord, ResponseRecord, SummaryRecord, ThreadRecord, Usage
from gateway.core.rules import Limits, apply_turn, new_thread
from gateway.ids import new_id
from gateway.store.protocols import Backend, TurnWrite
from providers.base import ChatMessage

S = 1_000_000
T0 = 1_800_000_000 * S
LIMITS = Limits(
    max_messages=10, max_metadata_bytes=1024, idle_us=100 * S, max_age_us=1000 * S, response_ttl_us=50 * S
)
ROOMY = msgspec.structs.replace(LIMITS, max_messages=1000)  # for the tests of long threads


def thread(org: str = "o1", tid: str | None = None, at: int = T0, **kw: object) -> ThreadRecord:
    t = new_thread(org, tid or new_id("thread"), metadata=None, visible=True, limits=LIMITS, at_us=at)
    return msgspec.structs.replace(t, **kw) if kw else t


def response(
    org: str, rid: str | None = None, *, thread_id: str | None = None, at: int = T0, text: str = "out"
) -> ResponseRecord:
    return ResponseRecord(
        org=org,
        id=rid or new_id("resp"),
        model="echo",
        created_us=at,
        expires_us=at + LIMITS.response_ttl_us,
        thread_id=thread_id,
        previous_response_id=None,
        output_message_id=new_id("msg"),
        output_text=text,
        usage=Usage(input_tokens=1, output_tokens=1),
        context=(ChatMessage("user", ("in",)),),
    )


async def turn(
    store: Backend,
    org: str,
    tid: str,
    texts: list[tuple[str, str]],
    *,
    at: int = T0,
    create: ThreadRecord | None = None,
    limits: Limits = LIMITS,
) -> ThreadRecord:
    rid = new_id("resp")
    msgs = [
        MessageRecord(id=new_id("msg"), role=role, texts=(text,), response_id=rid, created_us=at)  # type: ignore[arg-type]
        for role, text in texts
    ]
    return await store.threads.append_turn(
        TurnWrite(
            org=org,
            thread_id=tid,
            create=create,
            messages=msgs,
            response=response(org, rid, thread_id=tid, at=at),
            update=lambda t: apply_turn(
                t,
                adding=len(msgs),
                usage=Usage(input_tokens=2, output_tokens=3),
                next_state=None,
                limits=limits,
                at_us=at,
            ),
            at_us=at,
        )
    )


def summary(t: ThreadRecord, covers: int, text: str = "so far", basis: int = 0) -> SummaryRecord:
    """A summary of `t`'s messages up to `covers`, on the edit basis `basis`."""
    return SummaryRecord(
        org=t.org,
        thread_id=t.id,
        thread_created_us=t.created_us,
        basis_us=basis,
        covers_seq=covers,
        text=text,
        model="scribe/s",
        updated_us=T0,
    )
