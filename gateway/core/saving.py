"""What a finished turn writes (SPEC §3): its response, and for a thread turn its messages and the
thread's update, as one `TurnWrite` the store appends atomically; and the jobs it enqueues with it."""

from __future__ import annotations

import msgspec

from gateway.core.prepared import Prepared
from gateway.core.records import MessageRecord, ResponseRecord, ThreadRecord, Usage, seq_ranges
from gateway.core.rules import Limits, apply_turn
from gateway.ids import new_id
from gateway.store.jobs import NewJob
from gateway.store.protocols import IdemDone, TurnWrite
from providers.base import Completion


def saved_response(
    p: Prepared, completion: Completion, limits: Limits, at: int, status: str
) -> tuple[ResponseRecord, IdemDone | None]:
    """The turn's response (with the whole context it saw), and its idempotency key's answer."""
    usage = Usage(input_tokens=completion.input_tokens, output_tokens=completion.output_tokens)
    memory_job = None if p.memory is None else p.memory.job
    response = ResponseRecord(
        org=p.org,
        id=p.response_id,
        model=p.model,
        created_us=p.created_us,
        expires_us=p.created_us + limits.response_ttl_us,
        thread_id=p.thread_id if p.previous_response_id is None else None,
        previous_response_id=p.previous_response_id,
        output_message_id=p.output_message_id,
        output_text=completion.text,
        usage=usage,
        context=p.context,
        status=status,
        assistant_id=p.assistant_id,
        params=p.params,
        summary=None if p.summary is None else p.summary.text,
        summary_tokens=0 if p.summary is None else p.summary.tokens,
        context_limit=p.routes[0].provider.context_window(p.routes[0].model),
        user=p.user,
        # What memory added (SPEC §12), also in the answer a replay of its idempotency key gives;
        # a turn that keeps nothing enqueues no write.
        retrieved_memories=() if p.memory is None else p.memory.memories,
        memory_operation_id=memory_job.id if p.keep and memory_job is not None else None,
    )
    done = (
        None
        if p.idempotency is None
        else IdemDone(
            claim=p.idempotency,
            response=msgspec.structs.replace(response, context=()),
            expires_us=at + limits.response_ttl_us,
        )
    )
    return response, done


def turn_jobs(p: Prepared) -> tuple[NewJob, ...]:
    """The background work a turn enqueues with its save: its summary job, its memory write."""
    if p.memory is None or p.memory.job is None:
        return p.jobs
    return (*p.jobs, p.memory.job)


def turn_write(
    p: Prepared,
    response: ResponseRecord,
    completion: Completion,
    limits: Limits,
    at: int,
    done: IdemDone | None,
) -> TurnWrite:
    """A thread turn to append: the inputs, then the output, and the response by reference."""
    assert p.thread_id is not None
    # Stored by reference to the thread's messages, not as a copy of the whole context.
    response = msgspec.structs.replace(response, context_ref=seq_ranges(list(p.history_seqs)))
    messages = [
        MessageRecord(id=new_id("msg"), role=m.role, texts=m.texts, response_id=p.response_id, created_us=at)
        for m in p.inputs
    ]
    messages.append(
        MessageRecord(
            id=response.output_message_id,
            role="assistant",
            texts=(completion.text,),
            response_id=p.response_id,
            created_us=at,
        )
    )
    usage, state, model = response.usage, p.thread_state, p.model

    def update(thread: ThreadRecord) -> ThreadRecord:
        return apply_turn(
            thread, adding=len(messages), usage=usage, next_state=state, limits=limits, at_us=at, model=model
        )

    return TurnWrite(
        org=p.org,
        thread_id=p.thread_id,
        create=p.create,
        messages=messages,
        response=response,
        update=update,
        at_us=at,
        lease=p.lease,
        idempotency=done,
        jobs=turn_jobs(p),
    )
