"""Summaries in the core (SPEC §12) over the real SQLite store: what a turn whose history was cut
takes of the thread's summary (`Summaries.for_turn`), when it asks for a summary job, and the job
itself (`SummaryWriter`): incremental pieces that fit the summarizer's window, resumed after a
failure from what was stored, nothing for a deleted thread, rebuilt after an edit.

The summarizer is a small in-process model (`Scribe`): its summary names every message it was
shown, in the summary so far or as a new message, so what each piece covered can be read back."""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from gateway.core.budget import Budget
from gateway.core.calls import Caller, CallPolicy
from gateway.core.jobs import FinalJobError
from gateway.core.records import HistoryMessage, ThreadRecord
from gateway.core.summaries import SUMMARY_KIND, Summaries, SummaryJob, SummarySettings, summary_message
from gateway.core.summary_writer import SummaryDone, SummaryWriter
from gateway.errors import GatewayError
from gateway.store.jobs import Job, NewJob
from gateway.store.sqlite.store import SqliteStore
from providers.base import ChatMessage, Completion, EmbeddingRequest, Embeddings, ModelRequest, TextDelta
from providers.errors import EmbeddingsUnsupported, UpstreamFailed
from providers.registry import Registry
from tests.integration.store_contract.helpers import ROOMY, T0, summary, thread, turn


def count(m: ChatMessage) -> int:
    return math.ceil(m.chars / 4)


class Scribe:
    """A summarizer: answers `seen: m1 m2 ...`, every message number in its prompt, in order."""

    name = "scribe"

    def __init__(self, window: int) -> None:
        self.window = window
        self.prompts: list[str] = []
        self.fail_on: set[int] = set()  # call numbers (from 1) that fail

    def context_window(self, model: str) -> int:
        return self.window

    def count_tokens(self, message: ChatMessage) -> int:
        return count(message)

    async def complete(self, request: ModelRequest) -> Completion:
        prompt = request.messages[-1].text
        self.prompts.append(prompt)
        if len(self.prompts) in self.fail_on:
            raise UpstreamFailed("scribe", 503)
        seen = sorted({int(n) for n in re.findall(r"\bm(\d+)\b", prompt)})
        return Completion(text="seen: " + " ".join(f"m{n}" for n in seen), input_tokens=1, output_tokens=1)

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | Completion]:
        yield await self.complete(request)  # the summary job never streams; one piece if asked

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        raise EmbeddingsUnsupported(self.name)

    async def aclose(self) -> None:
        return None


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(str(tmp_path / "gateway.sqlite3"), ROOMY)
    await s.open()
    yield s
    await s.close()


async def long_thread(store: SqliteStore, tid: str, messages: int) -> ThreadRecord:
    """A thread whose messages say `m1`, `m2`, ... (user and assistant by turns)."""
    t: ThreadRecord | None = None
    for n in range(1, messages, 2):
        pair = [("user", f"m{n} " + "u" * 30), ("assistant", f"m{n + 1} " + "a" * 30)]
        t = await turn(store, "o1", tid, pair, create=thread("o1", tid) if n == 1 else None, limits=ROOMY)
    assert t is not None
    return t


def newest(messages: int, take: int) -> list[HistoryMessage]:
    """The newest `take` history messages of a `long_thread`, in order."""
    out = []
    for seq in range(messages - take + 1, messages + 1):
        role = "user" if seq % 2 else "assistant"
        out.append(HistoryMessage(seq, ChatMessage(role, (f"m{seq} " + ("u" if seq % 2 else "a") * 30,))))  # type: ignore[arg-type]
    return out


async def job_for(
    summaries: Summaries, t: ThreadRecord, chosen: list[HistoryMessage], per_message: float
) -> NewJob | None:
    _, _, job = await summaries.for_turn(
        t, chosen, Budget(1000, [], count), model="m/x", per_message=per_message, at_us=T0
    )
    return job


async def test_a_cut_history_with_no_summary_asks_for_one_past_the_threshold(store: SqliteStore) -> None:
    t = await long_thread(store, "thread_a", 40)
    chosen = newest(40, 10)  # seqs 31..40 fit; 30 messages left the window
    budget = Budget(1000, [], count)
    summaries = Summaries(store.summaries, SummarySettings(after_tokens=100, attempts=2))
    history, use, job = await summaries.for_turn(t, chosen, budget, model="m/x", per_message=10.0, at_us=T0)
    assert history == chosen and use is None and budget.remaining == 1000
    assert job is not None and job.kind == SUMMARY_KIND and job.org == "o1" and job.max_attempts == 2
    payload = msgspec.json.decode(job.payload, type=SummaryJob)
    # Up to the window's edge and a quarter of the kept history beyond it.
    assert payload == SummaryJob(thread_id=t.id, thread_created_us=t.created_us, model="m/x", upto_seq=32)
    # The same gap asks for the same job (its key), so turns meanwhile enqueue nothing new.
    again = await summaries.for_turn(
        t, chosen, Budget(1000, [], count), model="m/x", per_message=10.0, at_us=T0
    )
    assert again[2] is not None and again[2].key == job.key
    # Under the threshold (30 messages of 3 tokens < 100), or with summaries off: no job.
    small = await summaries.for_turn(
        t, chosen, Budget(1000, [], count), model="m/x", per_message=3.0, at_us=T0
    )
    assert small[2] is None
    off = Summaries(store.summaries, SummarySettings(after_tokens=0))
    assert not off.on and summaries.on  # off: no summary read either
    # `echo` repeats its prompt: it summarizes nothing, its turns read no summary.
    assert summaries.applies("m/x") and not summaries.applies("echo") and not off.applies("m/x")
    by_scribe = Summaries(store.summaries, SummarySettings(model="scribe/s"))
    assert by_scribe.applies("echo") and by_scribe.summarizer("echo") == "scribe/s"
    assert (await off.for_turn(t, chosen, Budget(1000, [], count), model="m/x", per_message=99.0, at_us=T0))[
        2
    ] is None


async def test_a_kept_summary_comes_first_and_the_oldest_history_makes_room(store: SqliteStore) -> None:
    t = await long_thread(store, "thread_b", 40)
    assert await store.summaries.put_summary(
        summary(t, 28, "seen: " + " ".join(f"m{n}" for n in range(1, 29)))
    )
    chosen = newest(40, 10)
    spent = sum(count(m.message) for m in chosen)
    budget = Budget(spent + 5, [], count)  # the history filled the window but 5 tokens
    for m in chosen:
        budget.take(m.message)
    summaries = Summaries(store.summaries, SummarySettings(model="scribe/s", after_tokens=100))
    history, use, job = await summaries.for_turn(t, chosen, budget, model="m/x", per_message=10.0, at_us=T0)
    cost = count(summary_message(use.text)) if use else 0
    assert use is not None and use.covers_seq == 28 and use.tokens == cost
    dropped = [m for m in chosen if m not in history]
    assert dropped == chosen[: len(dropped)] and dropped  # the oldest ones, in order
    assert budget.remaining == 5 + sum(count(m.message) for m in dropped) - cost >= 0
    # What lies between the summary (up to m28) and the oldest kept message is a few messages, under
    # `after_tokens` at 10 tokens each: no new summary is asked for.
    gap = history[0].seq - 1 - 28
    assert 0 < gap * 10 < 100 and job is None


async def test_a_summary_of_the_thread_before_an_edit_is_not_used(store: SqliteStore) -> None:
    t = await long_thread(store, "thread_c", 40)
    assert await store.summaries.put_summary(summary(t, 28, "seen: m1"))
    edited = msgspec.structs.replace(t, edited_us=T0 + 7)
    summaries = Summaries(store.summaries, SummarySettings(after_tokens=100))
    history, use, job = await summaries.for_turn(
        edited, newest(40, 10), Budget(1000, [], count), model="m/x", per_message=10.0, at_us=T0
    )
    assert use is None and len(history) == 10
    assert job is not None and job.key.split(":")[2:4] == [str(T0 + 7), "0"]  # rebuilt from the start


async def test_a_summary_too_long_for_the_window_is_left_out(store: SqliteStore) -> None:
    t = await long_thread(store, "thread_d", 40)
    assert await store.summaries.put_summary(summary(t, 28, "x" * 4000))
    chosen = newest(40, 4)
    budget = Budget(100, [], count)
    for m in chosen:
        budget.take(m.message)
    before = budget.remaining
    summaries = Summaries(store.summaries, SummarySettings(after_tokens=100))
    history, use, _ = await summaries.for_turn(t, chosen, budget, model="m/x", per_message=10.0, at_us=T0)
    assert use is None and history == chosen and budget.remaining == before


def writer(store: SqliteStore, scribe: Scribe) -> SummaryWriter:
    caller = Caller(Registry({"scribe": scribe}, known=frozenset({"scribe"})), CallPolicy(attempts=1))
    return SummaryWriter(
        store.threads, store.summaries, caller, SummarySettings(max_tokens=40), clock=lambda: T0 + 5
    )


def job(t: ThreadRecord, upto: int, model: str = "scribe/s") -> Job:
    payload = SummaryJob(thread_id=t.id, thread_created_us=t.created_us, model=model, upto_seq=upto)
    return Job(
        org=t.org,
        id="job_1",
        kind=SUMMARY_KIND,
        key="k",
        payload=msgspec.json.encode(payload),
        status="IN_PROGRESS",
        attempts=1,
        max_attempts=3,
        created_us=T0,
        updated_us=T0,
    )


def numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"m(\d+)", text)]


async def test_the_job_summarizes_in_pieces_that_fit_and_stores_each(store: SqliteStore) -> None:
    t = await long_thread(store, "thread_e", 40)
    scribe = Scribe(window=120)  # 80 tokens of prompt a piece: a few messages each
    done = msgspec.json.decode(await writer(store, scribe)(job(t, 30)), type=SummaryDone)
    assert done.covers_seq == 30 and done.pieces == len(scribe.prompts) > 2
    s = await store.summaries.get_summary("o1", t.id)
    assert s is not None and s.covers_seq == 30 and numbers(s.text) == list(range(1, 31))
    assert s.model == "scribe/s" and s.holds_for(t)
    # Each piece was given the summary so far and the next messages, never one twice.
    assert "(none yet" in scribe.prompts[0]
    for before, after in zip(scribe.prompts, scribe.prompts[1:], strict=False):
        assert "Summary so far:\nseen: " in after and max(numbers(after)) > max(numbers(before))
    # Run again (at least once delivery): nothing more to do.
    again = msgspec.json.decode(await writer(store, scribe)(job(t, 30)), type=SummaryDone)
    assert again == SummaryDone(covers_seq=30, pieces=0)


async def test_a_job_that_failed_mid_way_goes_on_from_what_it_stored(store: SqliteStore) -> None:
    t = await long_thread(store, "thread_f", 40)
    scribe = Scribe(window=120)
    scribe.fail_on = {3}
    with pytest.raises(GatewayError):
        await writer(store, scribe)(job(t, 30))
    half = await store.summaries.get_summary("o1", t.id)
    assert half is not None and 0 < half.covers_seq < 30
    resumed_from = len(scribe.prompts)
    await writer(store, scribe)(job(t, 30))
    full = await store.summaries.get_summary("o1", t.id)
    assert full is not None and full.covers_seq == 30 and numbers(full.text) == list(range(1, 31))
    # The second run started after what the first one stored.
    first_new = [n for n in numbers(scribe.prompts[resumed_from].split("New messages:")[1])]
    assert min(first_new) == half.covers_seq + 1


async def test_no_summary_for_a_deleted_thread_and_a_final_failure_for_an_unknown_model(
    store: SqliteStore,
) -> None:
    t = await long_thread(store, "thread_g", 20)
    scribe = Scribe(window=400)
    with pytest.raises(FinalJobError):
        await writer(store, scribe)(job(t, 10, model="nobody/model"))
    await store.threads.delete_thread("o1", t.id, T0 + 1)
    done = msgspec.json.decode(await writer(store, scribe)(job(t, 10)), type=SummaryDone)
    assert done == SummaryDone(covers_seq=None, pieces=0) and scribe.prompts == []
    assert await store.summaries.get_summary("o1", t.id) is None


async def test_an_edit_of_the_thread_makes_the_next_job_start_over(store: SqliteStore) -> None:
    t = await long_thread(store, "thread_h", 20)
    scribe = Scribe(window=4000)
    await writer(store, scribe)(job(t, 10))
    page = await store.threads.list_messages("o1", t.id, limit=1, after=None, descending=False, at_us=T0)
    assert page is not None
    await store.threads.delete_message("o1", t.id, page.items[0].id, T0 + 2)
    edited = await store.threads.get_thread("o1", t.id, T0 + 3)
    assert edited is not None and edited.edited_us is not None
    old = await store.summaries.get_summary("o1", t.id)
    assert old is not None and not old.holds_for(edited)
    await writer(store, scribe)(job(edited, 10))
    new = await store.summaries.get_summary("o1", t.id)
    assert new is not None and new.holds_for(edited) and numbers(new.text) == list(range(2, 11))
