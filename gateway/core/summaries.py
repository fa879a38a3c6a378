"""Summaries of long threads (SPEC §12), door-neutral: what a turn gives its model of the part of
its thread that no longer fits, and when it asks for that part to be summarized.

- A turn whose history was cut (the thread holds more than the window took) reads the thread's
  summary. If it holds for the thread as it is now (`SummaryRecord.holds_for`) it is given as one
  system message before the history; the oldest history messages make room for it, so the model
  sees the summary of the start and the newest messages whole. A summary that does not fit at all
  is left out (plain truncation).
- The messages that left the window unsummarized (those after the summary's `covers_seq` and
  before the oldest one the model sees) are counted at the sizes of this turn's history; past
  `after_tokens`, a summary job is enqueued with the turn, in the same store write (the outbox).
  It summarizes a little beyond the window's edge (a quarter of the history the turn kept), so
  the next turns see no gap. `gateway.core.summary_writer` runs it; the turn never waits for it.
- The thread's messages are never changed: a summary is stored beside them (`SummaryStore`).
"""

from __future__ import annotations

import math
import uuid

import msgspec
import structlog

from gateway.core.budget import Budget
from gateway.core.records import HistoryMessage, SummaryRecord, ThreadRecord
from gateway.store.jobs import NewJob
from gateway.store.protocols import SummaryStore
from providers.base import ChatMessage

_log = structlog.get_logger("gateway.summaries")
SUMMARY_KIND = "thread.summary"
_HEADER = "Summary of the earlier part of this conversation (its messages are no longer shown):"


class SummarySettings(msgspec.Struct, frozen=True, kw_only=True):
    # The model that writes summaries; None: the turn's own.
    model: str | None = None
    # Tokens of a thread that may have left the window unsummarized before a job is queued; 0: never.
    after_tokens: int = 1000
    # The summary's length bound (the summarizer's max_output_tokens).
    max_tokens: int = 600
    attempts: int = 3


class SummaryJob(msgspec.Struct, frozen=True, kw_only=True):
    """A summary job's payload: extend the thread's summary to cover its messages up to `upto_seq`."""

    thread_id: str
    thread_created_us: int
    model: str
    upto_seq: int


class SummaryUse(msgspec.Struct, frozen=True, kw_only=True):
    """The summary a turn gives its model."""

    text: str
    tokens: int
    covers_seq: int

    @property
    def message(self) -> ChatMessage:
        return summary_message(self.text)


def summary_message(text: str) -> ChatMessage:
    return ChatMessage("system", (f"{_HEADER}\n{text}",))


def summary_messages(use: SummaryUse | None) -> tuple[ChatMessage, ...]:
    return () if use is None else (use.message,)


class Summaries:
    """The turn's side of summaries: `for_turn` after the history was fitted."""

    def __init__(self, store: SummaryStore, settings: SummarySettings) -> None:
        self._store = store
        self.settings = settings
        # Off (`after_tokens` 0): no summary is made, so none is read either.
        self.on = settings.after_tokens > 0

    def summarizer(self, model: str) -> str:
        """The model that summarizes the threads of a turn on `model`."""
        return self.settings.model or model

    def applies(self, model: str) -> bool:
        """Whether the threads of a turn on `model` are summarized: summaries are on, and their
        summarizer is not the built-in `echo`, which repeats its prompt instead of summarizing it
        (its threads are truncated plainly, at no cost)."""
        if not self.on:
            return False
        summarizer = self.summarizer(model)
        return summarizer != "echo" and not summarizer.startswith("echo/")

    async def for_turn(
        self,
        thread: ThreadRecord,
        chosen: list[HistoryMessage],
        budget: Budget,
        *,
        model: str,
        per_message: float,
        at_us: int,
    ) -> tuple[list[HistoryMessage], SummaryUse | None, NewJob | None]:
        """For a turn whose history (`chosen`, in order) was cut: the history with room made for
        the thread's summary, the summary, and the summary job to enqueue (or None). A failure to
        read the summary leaves the turn with plain truncation (logged), never failed."""
        try:
            kept = await self._store.get_summary(thread.org, thread.id)
        except Exception:  # noqa: BLE001 - see above
            _log.warning("summary_read_failed", thread_id=thread.id, exc_info=True)
            return chosen, None, None
        valid = kept if kept is not None and kept.holds_for(thread) else None
        others = [m for m in chosen if m.role != "system"]
        use = None
        if valid is not None:
            message = summary_message(valid.text)
            cost = budget.cost(message)
            spare, dropped = budget.remaining, 0
            while spare < cost and dropped < len(others):
                spare += budget.cost(others[dropped].message)
                dropped += 1
            if spare >= cost:
                for m in others[:dropped]:
                    budget.give_back(m.message)
                budget.take(message)
                use = SummaryUse(text=valid.text, tokens=cost, covers_seq=valid.covers_seq)
                gone = {m.seq for m in others[:dropped]}
                chosen = [m for m in chosen if m.seq not in gone]
                others = others[dropped:]
        return chosen, use, self._job(thread, others, valid, model, per_message, at_us)

    def _job(
        self,
        thread: ThreadRecord,
        others: list[HistoryMessage],
        valid: SummaryRecord | None,
        model: str,
        per_message: float,
        at_us: int,
    ) -> NewJob | None:
        after = self.settings.after_tokens
        if after <= 0 or not others:
            return None
        covered = valid.covers_seq if valid is not None else 0
        oldest = others[0].seq
        gap = oldest - 1 - covered
        if gap <= 0 or gap * per_message < after:
            return None
        payload = SummaryJob(
            thread_id=thread.id,
            thread_created_us=int(thread.created_us),  # a driver's integer type is not encoded
            model=self.summarizer(model),
            upto_seq=oldest - 1 + len(others) // 4,
        )
        # One job per thread life, edit, starting point and step of `after` tokens of progress:
        # turns that find the same gap while a job runs ask for nothing more, and a failed job is
        # tried again once the thread has moved on by one more step.
        step = max(1, math.ceil(after / max(per_message, 1.0)))
        basis = thread.edited_us or 0
        return NewJob(
            org=thread.org,
            id=str(uuid.uuid4()),
            kind=SUMMARY_KIND,
            key=f"{thread.id}:{thread.created_us}:{basis}:{covered}:{oldest // step}",
            payload=msgspec.json.encode(payload),
            max_attempts=self.settings.attempts,
            at_us=at_us,
        )
