"""The summary job (SPEC §12): extend a thread's summary over its messages up to `upto_seq`.

Incremental: the summary kept so far (if it still holds for the thread) plus the messages after
the ones it covers, in pieces that fit the summarizer's window, one model call each. Each piece's
result is stored at once with the sequence number it reaches, so a job stopped half-way (a crash,
a lost lease) goes on from there when it runs again, and a job that finds its part already covered
does nothing (idempotent). The store keeps a summary only while its thread lives in the same
generation and only over an older one (`SummaryStore.put_summary`). A model that fails makes the
job fail (retried with backoff, then FAILED): the thread keeps what it had, plain truncation at
worst. Messages are only read, never changed.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from gateway import errors
from gateway.core.calls import Caller
from gateway.core.jobs import FinalJobError, payload_of
from gateway.core.records import HistoryMessage, SummaryRecord
from gateway.core.summaries import SummaryJob, SummarySettings
from gateway.store.jobs import Job
from gateway.store.protocols import SummaryStore, ThreadStore
from providers.base import ChatMessage, ModelRequest

READ_BATCH = 500
# A stored summary's bound in characters, whatever the model answered (about 4 characters a token).
MAX_SUMMARY_CHARS = 16_000
_PROMPT = """You keep the running summary of a long conversation between a user and an assistant.
Rewrite the summary so far to also cover the new messages below. Keep every durable fact (names,
numbers, dates, preferences, decisions, open questions, what was agreed); drop small talk. Write
plain prose or short bullet points, in the conversation's language, no longer than needed.
Answer with the updated summary only."""


class SummaryDone(msgspec.Struct, frozen=True, kw_only=True):
    """A summary job's result: the sequence number its thread's summary reaches, the model calls."""

    covers_seq: int | None
    pieces: int


class SummaryWriter:
    def __init__(
        self,
        threads: ThreadStore,
        summaries: SummaryStore,
        caller: Caller,
        settings: SummarySettings,
        *,
        clock: Callable[[], int],
    ) -> None:
        self._threads = threads
        self._summaries = summaries
        self._caller = caller
        self._settings = settings
        self._clock = clock

    async def __call__(self, job: Job) -> bytes:
        task = payload_of(job, SummaryJob)
        org = job.org
        thread = await self._threads.get_thread(org, task.thread_id, self._clock())
        if thread is None or thread.created_us != task.thread_created_us:
            return _done(None, 0)  # deleted or expired: nothing to summarize
        kept = await self._summaries.get_summary(org, task.thread_id)
        current = kept if kept is not None and kept.holds_for(thread) else None
        covered = current.covers_seq if current is not None else 0
        text = current.text if current is not None else None
        if covered >= task.upto_seq:
            return _done(covered, 0)
        try:
            routes = self._caller.routes(task.model)
        except errors.GatewayError as exc:
            raise FinalJobError(f"the summary model {task.model!r} is not available: {exc.message}") from None
        provider, model = routes[0].provider, routes[0].model
        context = min(r.provider.context_window(r.model) for r in routes)
        # The answer's room comes out of the window (at most half of it, for small windows).
        answer_tokens = min(self._settings.max_tokens, context // 2)
        window = context - answer_tokens
        messages = await self._messages(org, task.thread_id, covered, task.upto_seq)
        pieces, start = 0, 0
        while start < len(messages):
            head = _head(text)
            room = window - provider.count_tokens(head)
            lines: list[str] = []
            end = start
            while end < len(messages):
                line = _line(messages[end])
                cost = provider.count_tokens(ChatMessage("user", (line,)))
                if cost > room:
                    if lines:
                        break
                    # One message longer than the window: its start stands for it.
                    line = line[: max(room, 16) * 3]
                lines.append(line)
                room -= cost
                end += 1
            prompt = "\n".join([*head.texts, *lines])
            request = ModelRequest(
                model=model,
                messages=(ChatMessage("system", (_PROMPT,)), ChatMessage("user", (prompt,))),
                max_output_tokens=answer_tokens,
            )
            completion = await self._caller.complete(routes, request)
            text = completion.text.strip()[:MAX_SUMMARY_CHARS]
            if not text:
                raise ValueError("the summary model answered nothing")
            covers = messages[end - 1].seq
            record = SummaryRecord(
                org=org,
                thread_id=thread.id,
                thread_created_us=thread.created_us,
                basis_us=thread.edited_us or 0,
                covers_seq=covers,
                text=text,
                model=task.model,
                updated_us=self._clock(),
            )
            if not await self._summaries.put_summary(record):
                return _done(None, pieces)  # the thread is gone, or a newer summary was kept
            pieces += 1
            covered, start = covers, end
        return _done(covered, pieces)

    async def _messages(self, org: str, thread_id: str, after: int, upto: int) -> list[HistoryMessage]:
        """The thread's non-system messages after `after` up to `upto`, oldest first."""
        found: list[HistoryMessage] = []
        before = upto + 1
        while True:
            batch = await self._threads.recent_messages(org, thread_id, before_seq=before, limit=READ_BATCH)
            found.extend(m for m in batch if m.seq > after)
            if len(batch) < READ_BATCH or batch[-1].seq <= after:
                break
            before = batch[-1].seq
        found.reverse()
        return found


def _head(summary: str | None) -> ChatMessage:
    said = summary if summary is not None else "(none yet: this is the start of the conversation)"
    return ChatMessage("user", (f"Summary so far:\n{said}\n\nNew messages:",))


def _line(message: HistoryMessage) -> str:
    return f"{message.role}: {' '.join(message.texts)}"


def _done(covers: int | None, pieces: int) -> bytes:
    return msgspec.json.encode(SummaryDone(covers_seq=covers, pieces=pieces))
