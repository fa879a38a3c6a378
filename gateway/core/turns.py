"""One turn of SPEC §3: resolve the thread, assemble the context, call the provider, append.

`prepare` does everything that can fail before the model is called (so such errors are plain JSON
even for a streaming request); `complete` and `stream` call the model and save the turn.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable

import msgspec
import structlog

from gateway import errors
from gateway.core.assistants import AssistantService
from gateway.core.budget import fit_in_memory
from gateway.core.calls import Caller
from gateway.core.cancels import CancelOutcome, Cancels, Running
from gateway.core.memory import MemoryService, check_request, recall_messages
from gateway.core.plan import Plan, plan_turn
from gateway.core.prepared import Completed, Created, Delta, Done, Failed, Prepared, StreamEvent
from gateway.core.records import ResponseRecord, ThreadRecord
from gateway.core.requests import ChainTarget, TurnRequest
from gateway.core.rules import Limits, now_us
from gateway.core.saving import saved_response, turn_jobs, turn_write
from gateway.core.shutdown import Shutdown
from gateway.core.summaries import Summaries, SummaryUse, summary_message, summary_messages
from gateway.core.thread_context import ThreadContexts
from gateway.ids import new_id
from gateway.observability.probe import NO_PROBE, Probe
from gateway.store.jobs import NewJob
from gateway.store.locks import TurnLocks
from gateway.store.protocols import (
    Backend,
    IdemClaimed,
    IdemInFlight,
    IdemMismatch,
    IdemReplay,
    TurnLease,
)
from providers.base import ChatMessage, Completion, ModelRequest, TextDelta

_log = structlog.get_logger("gateway.turns")


class TurnService:
    """One turn of SPEC §3 over any door: `prepare`, then `complete` or `stream`."""

    def __init__(
        self,
        store: Backend,
        caller: Caller,
        limits: Limits,
        *,
        locks: TurnLocks,
        turn_wait_s: float,
        max_turn_s: float,
        shutdown: Shutdown,
        assistants: AssistantService,
        default_model: str = "echo",
        memory: MemoryService | None = None,
        summaries: Summaries | None = None,
        wake: Callable[[], None] | None = None,
        quick_edit_s: float = 5.0,
        clock: Callable[[], int] = now_us,
        spend: Callable[[int], Awaitable[None]] | None = None,
        probe: Probe = NO_PROBE,
    ) -> None:
        self._shutdown = shutdown
        # Told how each turn ended (the turn counter of `/metrics`).
        self._probe = probe
        # Given each finished turn's tokens (the per-key tokens-per-minute limit), when one is set.
        self._spend = spend
        self._assistants = assistants
        self._default_model = default_model
        self._memory = memory
        self._summaries = summaries
        # Called after a turn enqueued background work (the app points it at the job runner).
        self.wake = wake
        self._cancels = Cancels(store.threads, store.cancels, locks, quick_edit_s=quick_edit_s, clock=clock)
        self._threads = store.threads
        self._responses = store.responses
        self._idempotency = store.idempotency
        # A claimed key whose request ran longer than any turn can is free again (its holder died).
        self._idem_hold_us = int(max_turn_s * 1_000_000)
        self._caller = caller
        self._limits = limits
        self._locks = locks
        self._turn_wait_s = turn_wait_s
        self._clock = clock
        self._contexts = ThreadContexts(
            store.threads,
            caller,
            limits,
            assistants=assistants,
            default_model=default_model,
            summaries=summaries,
        )

    # -- before the model -----------------------------------------------------------------------

    async def claim(self, org: str, key: str, fingerprint: str) -> IdemClaimed | IdemReplay:
        """Take an `Idempotency-Key` for a request: the claim to run it under, or the answer the
        key's first request saved. 409 while that request runs; 422 for another request's key."""
        claim = await self._idempotency.claim(
            org, key, fingerprint, at_us=self._clock(), hold_us=self._idem_hold_us
        )
        if isinstance(claim, IdemInFlight):
            raise errors.IdempotencyInFlight()
        if isinstance(claim, IdemMismatch):
            raise errors.IdempotencyMismatch()
        return claim

    async def prepare(
        self, org: str, req: TurnRequest, *, idempotency: IdemClaimed | None = None
    ) -> Prepared:
        """Everything that can fail before the model is called: the thread, its rules, the context.

        A raise here releases `idempotency` (nothing was saved)."""
        try:
            prepared = await self._prepare(org, req)
        except BaseException:
            self._probe.turn("refused")
            await self._release_claim(idempotency)
            raise
        return msgspec.structs.replace(prepared, idempotency=idempotency) if idempotency else prepared

    async def _release_claim(self, claim: IdemClaimed | None) -> None:
        if claim is None:
            return
        try:
            await self._idempotency.release(claim)
        except Exception:  # noqa: BLE001 - an unreleased key frees itself when its hold runs out
            _log.warning("idempotency_release_failed", exc_info=True)

    async def _prepare(self, org: str, req: TurnRequest) -> Prepared:
        check_request(req.memory, req.user)
        named = None if req.assistant_id is None else await self._assistants.get(org, req.assistant_id)
        target = req.target
        plan: Plan | None
        try:
            plan = plan_turn(self._caller, req, named, self._default_model)
        except errors.GatewayError:
            if named is not None or req.model is not None or isinstance(target, ChainTarget):
                raise
            plan = None  # the thread's own assistant may name the model: decided once it is read
        create: ThreadRecord | None = None
        summary: SummaryUse | None = None
        jobs: tuple[NewJob, ...] = ()
        history_seqs: list[int] = []
        thread_id: str | None = None
        lease: TurnLease | None = None
        history: list[ChatMessage]
        # The end user the turn is for (its memory scope, SPEC §12): the request's, else its
        # thread's, else (a chain) the previous response's.
        user = req.user
        if isinstance(target, ChainTarget):
            assert plan is not None
            at = self._clock()
            history = []
            if target.response_id is not None:
                prev = await self.get_response(org, target.response_id)
                user = user or prev.scope_user
                output = ChatMessage("assistant", (prev.output_text,))
                # The summary its model was given comes first, as it did then.
                if prev.summary is not None:
                    given = summary_message(prev.summary)
                    if plan.budget.take(given):
                        tokens = plan.budget.cost(given)
                        summary = SummaryUse(text=prev.summary, tokens=tokens, covers_seq=0)
                history = await fit_in_memory(plan.budget, (*prev.context, output))
        else:
            thread_id = target.id or new_id("thread")
            # Linearizable: the lease is taken before the history is read, so this turn sees every
            # turn saved before it and the next one sees this one.
            lease = await self._locks.acquire(org, thread_id, wait_s=self._turn_wait_s)
            if lease is None:
                raise errors.ThreadBusy(thread_id)
            at = self._clock()
            try:
                create, plan, fitted = await self._contexts.prepare(org, thread_id, req, named, plan, at)
                history, history_seqs, summary = fitted.history, fitted.seqs, fitted.summary
                jobs, user = fitted.jobs, fitted.user
            except BaseException:
                await self._locks.release(lease)
                raise

        context = (*history, *req.inputs)
        response_id = new_id("resp")
        recall = None
        # Thread turns and chains alike; a turn without an assistant has no memory (and no read).
        if self._memory is not None and plan.assistant is not None:
            recall = await self._memory.recall_for_turn(
                org, plan.assistant, req, response_id, at, plan.budget, user=user
            )
        request = ModelRequest(
            model=plan.routes[0].model,
            messages=(*plan.instructions, *recall_messages(recall), *summary_messages(summary), *context),
            temperature=req.temperature,
            top_p=req.top_p,
            max_output_tokens=req.max_output_tokens,
        )
        return Prepared(
            org=org,
            model=plan.model,
            routes=plan.routes,
            history_seqs=tuple(history_seqs),
            request=request,
            inputs=req.inputs,
            context=context,
            thread_id=thread_id,
            create=create,
            thread_state=None if isinstance(target, ChainTarget) else target.state_after,
            previous_response_id=target.response_id if isinstance(target, ChainTarget) else None,
            response_id=response_id,
            memory=recall,
            summary=summary,
            jobs=jobs,
            created_us=at,
            lease=lease,
            assistant_id=plan.assistant_id,
            keep=req.keep,
            params=req.params,
            user=user,
        )

    async def abandon(self, p: Prepared) -> None:
        """Give up a prepared turn that will not be run (its thread's lease goes to the next turn)."""
        await self._finish(p, saved=False)

    async def _finish(self, p: Prepared, *, saved: bool) -> None:
        """After a turn: the thread's lease given up; the idempotency key freed unless saved (its
        answer was written with the turn). Idempotent."""
        await self._locks.release(p.lease)
        if not saved:
            await self._release_claim(p.idempotency)  # a second release finds nothing to free

    async def get_response(self, org: str, response_id: str) -> ResponseRecord:
        """A live response of `org` (the store's cache first: one round trip either way)."""
        found = await self._responses.get_response(org, response_id, self._clock())
        if found is None:
            raise errors.ResponseNotFound(response_id)
        return found

    # -- the model, then the save ---------------------------------------------------------------

    async def complete(self, p: Prepared) -> ResponseRecord:
        saved = False
        try:
            async with self._shutdown.bound():
                completion = await self._caller.complete(p.routes, p.request)
            response = await self._save(p, completion)
            saved = True
            return response
        finally:
            self._probe.turn("completed" if saved else "failed")
            await self._finish(p, saved=saved)

    async def stream(self, p: Prepared) -> AsyncGenerator[StreamEvent]:
        """Events of SPEC §3.3. Nothing is saved unless the stream reaches its end (or is cancelled
        late enough that its partial answer is kept, see `cancels`)."""
        saved = False
        outcome = "abandoned"  # unless the stream reaches one of its ends
        running = self._cancels.start(p)
        try:
            yield Created(p)
            try:
                completion: Completion | None = None
                parts: list[str] = []
                async with contextlib.aclosing(self._caller.stream(p.routes, p.request)) as items:
                    while True:
                        # Bounded wait by wait, never across a `yield` (the client's own sending).
                        try:
                            async with self._shutdown.bound(), running.bound():
                                item = await anext(items, None)
                        except TimeoutError:
                            if not running.cancelled:
                                raise
                            break  # the client cancelled: the upstream call is closed on leaving
                        if item is None:
                            break
                        if isinstance(item, TextDelta):
                            if item.text:
                                parts.append(item.text)
                                yield Delta(item.text)
                        else:
                            completion = item
                if running.cancelled:
                    outcome = "cancelled"
                    response = await self._cancelled(p, running, "".join(parts))
                    if response is None:
                        yield Failed(errors.Cancelled("The stream was cancelled; nothing was kept."))
                        return
                    saved = True
                    await self._finish(p, saved=True)
                    yield Completed(response)
                    return
                if completion is None:
                    raise errors.ProviderFailed("The provider's stream ended without a result.")
                yield Done(completion.text)
                response = await self._save(p, completion)
            except errors.GatewayError as exc:
                outcome = "failed"
                yield Failed(exc)
                return
            except Exception:  # noqa: BLE001 - see below
                # The answer has started (200 and `response.created` are sent): an unexpected
                # failure can only end the stream with `response.failed`. Nothing was saved.
                _log.exception("stream_failed")
                outcome = "failed"
                yield Failed(errors.InternalError("The gateway failed to process the request."))
                return
            # Saved: the next turn may go ahead before this client reads the last event.
            saved = True
            outcome = "completed"
            await self._finish(p, saved=True)
            yield Completed(response)
        finally:
            # Also when the client left mid-stream (the generator is closed): nothing was saved.
            self._probe.turn(outcome)
            await self._cancels.stop(p, running)
            await self._finish(p, saved=saved)

    async def _cancelled(self, p: Prepared, running: Running, partial: str) -> ResponseRecord | None:
        """A cancelled stream: its partial answer kept as a turn (late cancel), or nothing."""
        kept = running.keeps_partial() and bool(partial)
        response = None
        if kept:
            estimate = p.routes[0].provider.count_tokens(ChatMessage("assistant", (partial,)))
            completion = Completion(text=partial, input_tokens=0, output_tokens=estimate)
            response = await self._save(p, completion, status="cancelled")
        await self._cancels.settle(p, running, kept=kept)
        return response

    async def cancel(self, org: str, thread_id: str) -> CancelOutcome:
        """Stop the thread's running stream (SPEC §10); what it kept."""
        return await self._cancels.cancel(org, thread_id)

    async def _save(self, p: Prepared, completion: Completion, status: str = "completed") -> ResponseRecord:
        if self._spend is not None:  # the model's work is done, whatever the save does
            await self._spend(completion.input_tokens + completion.output_tokens)
        at = self._clock()
        response, done = saved_response(p, completion, self._limits, at, status)
        if not p.keep:
            return response
        jobs = turn_jobs(p)
        if p.previous_response_id is not None or p.thread_id is None:
            # A response of no thread writes its memory job with it, as a thread turn does (one
            # transaction: a saved response always has its job and a refused one none; see
            # `ResponseStore.save_response` for MongoDB without transactions).
            await self._responses.save_response(response, done, jobs)
        else:
            write = turn_write(p, response, completion, self._limits, at, done)
            await self._threads.append_turn(write)
            response = write.response
        if jobs and self.wake is not None:
            self.wake()
        return response
