"""What a thread turn knows of its thread before the model is called (SPEC §3, §6, §11, §12): the
thread's rules checked, the thread to create when it is new, the turn's plan under the thread's
assistant, its end user, and the history (with the summary) that fits the model's window."""

from __future__ import annotations

import operator
from collections.abc import Callable

import msgspec
from cachetools import LRUCache

from gateway import errors
from gateway.core.assistants import AssistantService
from gateway.core.budget import BATCH, batch_for, fit_history
from gateway.core.calls import Caller
from gateway.core.plan import Plan, plan_turn
from gateway.core.records import AssistantRecord, HistoryMessage, ThreadRecord
from gateway.core.requests import ThreadTarget, TurnRequest
from gateway.core.rules import (
    Limits,
    check_accepts_turn,
    check_message_limit,
    check_thread_assistant,
    new_thread,
    thread_user,
)
from gateway.core.summaries import Summaries, SummaryUse
from gateway.store.jobs import NewJob
from gateway.store.protocols import ThreadStore, TurnView
from providers.base import ChatMessage

SYSTEM_HISTORY_LIMIT = 256
SIZE_ESTIMATES = 16_384
_chat: Callable[[HistoryMessage], ChatMessage] = operator.attrgetter("message")
_seq: Callable[[HistoryMessage], int] = operator.attrgetter("seq")


class Fitted(msgspec.Struct, kw_only=True):
    """What a thread turn's model sees of its thread: the history that fits (in order), its
    messages' sequence numbers, the thread's summary, and the summary job to enqueue; and the
    turn's end user (the request's, else the thread's: its memory scope, SPEC §12)."""

    history: list[ChatMessage] = msgspec.field(default_factory=list)
    seqs: list[int] = msgspec.field(default_factory=list)
    summary: SummaryUse | None = None
    jobs: tuple[NewJob, ...] = ()
    user: str | None = None


class ThreadContexts:
    """The thread side of `TurnService.prepare`."""

    def __init__(
        self,
        threads: ThreadStore,
        caller: Caller,
        limits: Limits,
        *,
        assistants: AssistantService,
        default_model: str,
        summaries: Summaries | None,
    ) -> None:
        self._threads = threads
        self._caller = caller
        self._limits = limits
        self._assistants = assistants
        self._default_model = default_model
        self._summaries = summaries
        # Tokens per message of recently seen threads: sizes the first history read of their next
        # turn. Only an estimate: a wrong one costs one more read, never a wrong context.
        self._sizes: LRUCache[tuple[str, str], float] = LRUCache(maxsize=SIZE_ESTIMATES)

    async def prepare(
        self,
        org: str,
        thread_id: str,
        req: TurnRequest,
        named: AssistantRecord | None,
        plan: Plan | None,
        at: int,
    ) -> tuple[ThreadRecord | None, Plan, Fitted]:
        """A thread turn's checks and history: the thread to create (if new), the turn's plan under
        the thread's assistant, and what of the thread the model sees."""
        assert isinstance(req.target, ThreadTarget)
        target, inputs = req.target, len(req.inputs)
        # The first read is sized by what this thread's messages cost at its last turn here.
        estimate = self._sizes.get((org, thread_id))
        first = batch_for(plan.budget.remaining, estimate) if plan is not None else BATCH
        if target.id is None:
            # An id generated for this turn names no thread yet: nothing to read (the turn's write
            # still creates it only on a free id).
            view = TurnView(thread=None)
        else:
            view = await self._threads.turn_view(
                org, thread_id, at_us=at, system_limit=SYSTEM_HISTORY_LIMIT, recent_limit=first
            )
        thread = view.thread
        if thread is None:
            if view.tombstoned or target.must_exist:
                raise errors.ThreadNotFound(thread_id)
            # A thread is bound to its assistant and its user when it is created.
            create = new_thread(
                org,
                thread_id,
                metadata=target.metadata,
                visible=target.visible,
                limits=self._limits,
                at_us=at,
                user=req.user,
            )
            if named is not None:
                create = msgspec.structs.replace(create, assistant_id=named.id)
            check_message_limit(0, inputs + 1, self._limits, thread_id)
            plan = plan or plan_turn(self._caller, req, named, self._default_model)
            return create, plan, Fitted(user=req.user)
        check_accepts_turn(thread)
        check_thread_assistant(thread, req.assistant_id)
        user = thread_user(thread, req.user)
        check_message_limit(thread.message_count, inputs + 1, self._limits, thread_id)
        if named is None and thread.assistant_id is not None:
            # The thread's assistant (None if it was deleted meanwhile: the thread is detached).
            own = await self._assistants.find(org, thread.assistant_id)
            if own is not None or plan is None:
                plan = plan_turn(self._caller, req, own, self._default_model)
        elif plan is None:
            plan = plan_turn(self._caller, req, named, self._default_model)
        fitted = await self._history(thread, plan, view, first, at)
        fitted.user = user
        return None, plan, fitted

    async def _history(self, thread: ThreadRecord, plan: Plan, view: TurnView, first: int, at: int) -> Fitted:
        """The history that fits, its messages' sequence numbers, and when the thread holds more
        than fits, its summary and the summary job to enqueue (see `gateway.core.summaries`)."""
        org, thread_id, budget = thread.org, thread.id, plan.budget

        async def fetch(last: HistoryMessage | None, limit: int) -> list[HistoryMessage]:
            if last is None:
                return view.recent  # the first batch came with the view
            return await self._threads.recent_messages(org, thread_id, before_seq=last.seq, limit=limit)

        before = budget.remaining
        chosen = await fit_history(
            budget, system=view.system, fetch_recent=fetch, chat=_chat, position=_seq, first=first
        )
        per_message = (before - budget.remaining) / len(chosen) if chosen else 0.0
        if chosen:
            self._sizes[(org, thread_id)] = per_message
        summary: SummaryUse | None = None
        jobs: tuple[NewJob, ...] = ()
        summaries = self._summaries
        if summaries is not None and summaries.applies(plan.model) and thread.message_count > len(chosen):
            chosen, summary, job = await summaries.for_turn(
                thread, chosen, budget, model=plan.model, per_message=per_message, at_us=at
            )
            jobs = () if job is None else (job,)
        return Fitted(
            history=list(map(_chat, chosen)), seqs=list(map(_seq, chosen)), summary=summary, jobs=jobs
        )
