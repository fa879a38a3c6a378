"""`TurnService` over a real SQLite store, with providers the test scripts: what a turn saves, the
thread it holds and frees, the `Idempotency-Key` it keeps or frees, a stream's events and its
cancel (SPEC §3, §10, §15)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
import structlog

from gateway import errors
from gateway.core.assistants import AssistantService
from gateway.core.calls import Caller, CallPolicy
from gateway.core.embedder import embedder
from gateway.core.memory import MemoryService, MemorySettings
from gateway.core.prepared import Completed, Created, Delta, Done, Failed, Prepared, StreamEvent
from gateway.core.records import ResponseParams, SummaryRecord
from gateway.core.requests import ChainTarget, ThreadTarget, TurnRequest
from gateway.core.rules import Limits, now_us
from gateway.core.shutdown import Shutdown
from gateway.core.summaries import SUMMARY_KIND, Summaries, SummarySettings, summary_message
from gateway.core.turns import TurnService
from gateway.observability.probe import Probe
from gateway.store.jobs import NewJob
from gateway.store.locks import TurnLocks
from gateway.store.protocols import IdemClaimed, IdemReplay
from gateway.store.sqlite.store import SqliteStore
from providers.base import ChatMessage, Completion, EmbeddingRequest, Embeddings, ModelRequest, TextDelta
from providers.echo import EchoProvider
from providers.errors import EmbeddingsUnsupported
from providers.registry import Registry

ORG, OTHER_ORG = "org_alpha", "org_beta"
LIMITS = Limits(
    max_messages=1_000,
    max_metadata_bytes=16_384,
    idle_us=3_600 * 1_000_000,
    max_age_us=86_400 * 1_000_000,
    response_ttl_us=86_400 * 1_000_000,
)
MAX_TURN_S = 10.0


class Scripted:
    """A provider that answers as the test says: `chunks`, then (`then`) its completion, nothing,
    an error raised, or a wait that only a cancel or a close ends. One token per character."""

    name = "scripted"

    def __init__(self) -> None:
        self.chunks: tuple[str, ...] = ("Hel", "lo")
        self.then: str | Exception = "complete"
        self.requests: list[ModelRequest] = []
        self.counted: list[ChatMessage] = []
        self.closed = False
        self.window = 100_000

    def context_window(self, model: str) -> int:
        return self.window

    def count_tokens(self, message: ChatMessage) -> int:
        self.counted.append(message)
        return message.chars

    def _completion(self) -> Completion:
        return Completion(text="".join(self.chunks), input_tokens=7, output_tokens=3)

    async def complete(self, request: ModelRequest) -> Completion:
        self.requests.append(request)
        if isinstance(self.then, Exception):
            raise self.then
        return self._completion()

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | Completion]:
        self.requests.append(request)
        try:
            for chunk in self.chunks:
                yield TextDelta(chunk)
            if isinstance(self.then, Exception):
                raise self.then
            if self.then == "hang":
                await asyncio.Event().wait()
            if self.then == "complete":
                yield self._completion()
        finally:
            self.closed = True

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        raise EmbeddingsUnsupported(self.name)

    async def aclose(self) -> None:
        return None


class Spare(EchoProvider):
    """The fallback of `scripted/m`: four characters a token, so its count differs."""

    name = "spare"


class Turns(Probe):
    """The probe, told how each turn ended."""

    def __init__(self) -> None:
        super().__init__()
        self.outcomes: list[str] = []

    def turn(self, outcome: str) -> None:
        self.outcomes.append(outcome)


class Clock:
    def __init__(self) -> None:
        self.now = now_us()

    def __call__(self) -> int:
        return self.now


@dataclass
class World:
    store: SqliteStore
    locks: TurnLocks
    provider: Scripted = field(default_factory=Scripted)
    clock: Clock = field(default_factory=Clock)
    probe: Turns = field(default_factory=Turns)
    spent: list[int] = field(default_factory=list)
    woken: list[None] = field(default_factory=list)

    def caller(self) -> Caller:
        registry = Registry(
            {"scripted": self.provider, "spare": Spare(), "echo": EchoProvider()},
            fallbacks={"scripted/m": ["spare/m"]},
        )
        return Caller(registry, CallPolicy(total_timeout_s=30, attempts=1, backoff_s=0))

    def assistants(self) -> AssistantService:
        return AssistantService(self.store.assistants, self.caller(), LIMITS, self.clock)

    def service(self, store: Any = None, **overrides: Any) -> TurnService:
        caller = self.caller()

        async def spend(tokens: int) -> None:
            self.spent.append(tokens)

        kwargs: dict[str, Any] = {
            "locks": self.locks,
            "turn_wait_s": 0.0,
            "max_turn_s": MAX_TURN_S,
            "shutdown": Shutdown(),
            "assistants": AssistantService(self.store.assistants, caller, LIMITS, self.clock),
            "default_model": "scripted/m",
            "quick_edit_s": 3_600.0,
            "clock": self.clock,
            "spend": spend,
            "wake": lambda: self.woken.append(None),
            "probe": self.probe,
            **overrides,
        }
        return TurnService(store or self.store, caller, LIMITS, **kwargs)

    async def messages(self, thread_id: str) -> list[tuple[str, str]] | None:
        page = await self.store.threads.list_messages(
            ORG, thread_id, limit=100, after=None, descending=False, at_us=self.clock()
        )
        return None if page is None else [(m.role, "".join(m.texts)) for m in page.items]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    store = SqliteStore(str(tmp_path / "gateway.sqlite3"), LIMITS)
    await store.open()
    locks = TurnLocks(store.turn_locks, max_hold_s=MAX_TURN_S)
    try:
        yield World(store, locks)
    finally:
        await locks.aclose()
        await store.close()


def user(text: str) -> ChatMessage:
    return ChatMessage("user", (text,))


def on_thread(thread_id: str, text: str = "hi", **fields: Any) -> TurnRequest:
    return TurnRequest(model=None, inputs=(user(text),), target=ThreadTarget(id=thread_id), **fields)


def chained(previous: str | None, text: str, **fields: Any) -> TurnRequest:
    return TurnRequest(model=None, inputs=(user(text),), target=ChainTarget(response_id=previous), **fields)


async def events_of(turns: TurnService, p: Prepared) -> list[StreamEvent]:
    return [event async for event in turns.stream(p)]


def failure(events: list[StreamEvent]) -> errors.GatewayError:
    last = events[-1]
    assert isinstance(last, Failed), events
    return last.error


async def key_state(turns: TurnService, key: str = "key-1", fingerprint: str = "fp") -> str:
    """What a retry with the key would find: `free` (claimed anew), `replay` or `in flight`."""
    try:
        claim = await turns.claim(ORG, key, fingerprint)
    except errors.IdempotencyInFlight:
        return "in flight"
    return "replay" if isinstance(claim, IdemReplay) else "free"


# -- a turn and its save -------------------------------------------------------------------------


async def test_a_completed_turn_is_saved_on_its_thread_which_is_then_free(world: World) -> None:
    turns = world.service()
    p = await turns.prepare(ORG, on_thread("t1", "hi"))
    assert await world.locks.busy(ORG, "t1")
    response = await turns.complete(p)
    assert (response.thread_id, response.output_text, response.status) == ("t1", "Hello", "completed")
    assert response.id == p.response_id and response.id.startswith("resp_")
    assert await world.messages("t1") == [("user", "hi"), ("assistant", "Hello")]
    assert not await world.locks.busy(ORG, "t1")
    assert world.probe.outcomes == ["completed"]
    assert world.spent == [7 + 3]
    assert world.woken == []  # nothing enqueued, nothing to wake
    found = await turns.get_response(ORG, response.id)
    assert (found.id, found.output_text, found.thread_id) == (response.id, "Hello", "t1")


@pytest.mark.parametrize(
    ("overrides", "model", "answer"),
    [({}, "m", "Hello"), ({"default_model": "echo"}, "echo", "hi")],
    ids=["configured", "echo"],
)
async def test_a_turn_naming_no_model_runs_on_the_default_model(
    world: World, overrides: dict[str, Any], model: str, answer: str
) -> None:
    turns = world.service(**overrides)
    p = await turns.prepare(ORG, on_thread("t1", "hi"))
    assert p.request.model == model
    assert (await turns.complete(p)).output_text == answer


async def test_without_a_configured_default_the_model_is_echo(world: World) -> None:
    caller = world.caller()
    turns = TurnService(
        world.store,
        caller,
        LIMITS,
        locks=world.locks,
        turn_wait_s=0.0,
        max_turn_s=MAX_TURN_S,
        shutdown=Shutdown(),
        assistants=AssistantService(world.store.assistants, caller, LIMITS, world.clock),
    )
    p = await turns.prepare(ORG, on_thread("t1", "ping"))
    assert p.model == "echo"
    assert (await turns.complete(p)).output_text == "ping"


async def test_a_turn_naming_no_thread_makes_one_with_a_new_id(world: World) -> None:
    turns = world.service()
    p = await turns.prepare(ORG, TurnRequest(model=None, inputs=(user("hi"),)))
    assert p.thread_id is not None and p.thread_id.startswith("thread_")
    response = await turns.complete(p)
    assert response.thread_id == p.thread_id
    assert await world.messages(p.thread_id) == [("user", "hi"), ("assistant", "Hello")]


async def test_a_turn_passes_its_sampling_settings_and_thread_state_on(world: World) -> None:
    turns = world.service()
    target = ThreadTarget(id="t1", state_after="locked")
    request = TurnRequest(
        model=None, inputs=(user("hi"),), target=target, temperature=0.25, top_p=0.5, max_output_tokens=64
    )
    p = await turns.prepare(ORG, request)
    assert (p.request.temperature, p.request.top_p, p.request.max_output_tokens) == (0.25, 0.5, 64)
    assert p.thread_state == "locked"
    await turns.abandon(p)


async def test_a_failed_model_call_saves_nothing_and_frees_the_thread(world: World) -> None:
    world.provider.then = RuntimeError("upstream broke")
    turns = world.service()
    p = await turns.prepare(
        ORG, TurnRequest(model="scripted/solo", inputs=(user("hi"),), target=ThreadTarget(id="t1"))
    )
    with pytest.raises(RuntimeError, match=re.escape("upstream broke")):
        await turns.complete(p)
    assert await world.messages("t1") is None
    assert not await world.locks.busy(ORG, "t1")
    assert world.probe.outcomes == ["failed"]
    assert world.spent == []


async def test_an_abandoned_turn_frees_its_thread_and_saves_nothing(world: World) -> None:
    turns = world.service()
    p = await turns.prepare(ORG, on_thread("t1"))
    await turns.abandon(p)
    assert not await world.locks.busy(ORG, "t1")
    assert await world.messages("t1") is None


async def test_a_turn_with_background_work_wakes_the_job_runner(world: World) -> None:
    turns = world.service()
    p = await turns.prepare(ORG, on_thread("t1"))
    job = NewJob(
        org=ORG, id="job_1", kind="summary", key="t1:1", payload=b"{}", max_attempts=1, at_us=world.clock()
    )
    await turns.complete(msgspec.structs.replace(p, jobs=(job,)))
    assert world.woken == [None]


async def test_a_turn_with_keep_false_saves_nothing(world: World) -> None:
    turns = world.service()
    response = await turns.complete(await turns.prepare(ORG, on_thread("t1", keep=False)))
    assert response.output_text == "Hello"
    assert await world.messages("t1") is None
    with pytest.raises(errors.ResponseNotFound):
        await turns.get_response(ORG, response.id)


async def test_a_thread_longer_than_the_window_asks_for_its_summary(world: World) -> None:
    world.provider.window = 400
    turns = world.service(summaries=Summaries(world.store.summaries, SummarySettings(after_tokens=1)))
    for i in range(8):
        await turns.complete(await turns.prepare(ORG, on_thread("t1", f"question {i} " * 5)))
    p = await turns.prepare(ORG, on_thread("t1", "last"))
    assert [job.kind for job in p.jobs] == [SUMMARY_KIND]
    assert p.history_seqs[0] > 1  # the oldest messages left the window
    await turns.abandon(p)


async def test_a_chain_from_a_summarized_turn_gives_its_summary_first(world: World) -> None:
    world.provider.window = 400
    turns = world.service(summaries=Summaries(world.store.summaries, SummarySettings(after_tokens=1)))
    for i in range(8):
        await turns.complete(await turns.prepare(ORG, on_thread("t1", f"question {i} " * 5)))
    thread = await world.store.threads.get_thread(ORG, "t1", world.clock())
    assert thread is not None
    text = "They asked eight questions."
    summary = SummaryRecord(
        org=ORG,
        thread_id="t1",
        thread_created_us=thread.created_us,
        basis_us=thread.edited_us or 0,
        covers_seq=8,
        text=text,
        model="m",
        updated_us=world.clock(),
    )
    await world.store.summaries.put_summary(summary)
    summarized = await turns.complete(await turns.prepare(ORG, on_thread("t1", "last")))
    assert summarized.summary == text
    p = await turns.prepare(ORG, chained(summarized.id, "and then?"))
    assert p.summary is not None
    given = summary_message(text)
    assert (p.summary.text, p.summary.tokens, p.summary.covers_seq) == (text, given.chars, 0)
    assert p.request.messages[0] == given
    assert p.request.messages[-1] == user("and then?")


# -- what is checked before the model --------------------------------------------------------------


async def test_an_assistant_named_by_the_turn_gives_its_instructions_and_model(world: World) -> None:
    turns = world.service(default_model="echo")
    helper = await world.assistants().create(ORG, name="helper", instructions="Be brief.", model="scripted/m")
    p = await turns.prepare(ORG, on_thread("t1", "hi", assistant_id=helper.id))
    assert p.assistant_id == helper.id
    assert p.request.model == "m"
    assert p.request.messages == (ChatMessage("system", ("Be brief.",)), user("hi"))
    await turns.abandon(p)


async def test_a_thread_keeps_its_assistant_for_turns_that_name_none(world: World) -> None:
    # The default model serves nothing: the later turn's model can only be its thread's assistant's.
    turns = world.service(default_model="nowhere/m")
    helper = await world.assistants().create(ORG, name="helper", instructions="Be brief.", model="scripted/m")
    await turns.complete(await turns.prepare(ORG, on_thread("t1", "hi", assistant_id=helper.id)))
    p = await turns.prepare(ORG, on_thread("t1", "again"))
    assert (p.assistant_id, p.request.model) == (helper.id, "m")
    assert p.request.messages[0] == ChatMessage("system", ("Be brief.",))
    assert p.request.messages[-1] == user("again")
    await turns.abandon(p)


@pytest.mark.parametrize("kind", ["thread", "chain"])
async def test_a_turn_of_an_assistant_with_memory_enqueues_its_memory_write(world: World, kind: str) -> None:
    caller = world.caller()
    memory = MemoryService(world.store, embedder(caller, "echo"), MemorySettings(), clock=world.clock)
    turns = world.service(memory=memory)
    helper = await world.assistants().create(ORG, name="helper", memory="auto")
    if kind == "thread":
        request = on_thread("t1", "I like tea", assistant_id=helper.id, user="alice")
    else:
        request = chained(None, "I like tea", assistant_id=helper.id, user="alice")
    response = await turns.complete(await turns.prepare(ORG, request))
    assert response.memory_operation_id is not None
    job = await world.store.jobs.get(ORG, response.memory_operation_id)
    assert job is not None
    assert '"alice"' in job.payload.decode()  # the end user whose memories it writes
    assert world.woken == [None]


async def test_an_unknown_assistant_is_refused_and_nothing_is_held(world: World) -> None:
    turns = world.service()
    with pytest.raises(errors.AssistantNotFound, match=re.escape("Assistant 'asst_nope' was not found.")):
        await turns.prepare(ORG, on_thread("t1", assistant_id="asst_nope"))
    assert not await world.locks.busy(ORG, "t1")
    assert world.probe.outcomes == ["refused"]


@pytest.mark.parametrize(("memory", "end_user"), [("sometimes", None), (None, "   ")], ids=["memory", "user"])
async def test_a_memory_mode_or_end_user_that_is_none_is_refused(
    world: World, memory: str | None, end_user: str | None
) -> None:
    turns = world.service()
    with pytest.raises(errors.ValidationFailed):  # a chain: checked before anything is read
        await turns.prepare(ORG, chained(None, "one", memory=memory, user=end_user))


async def test_an_unknown_model_is_refused_without_waiting_for_the_thread(world: World) -> None:
    turns = world.service()
    held = await turns.prepare(ORG, on_thread("t1"))
    request = TurnRequest(model="nowhere/m", inputs=(user("hi"),), target=ThreadTarget(id="t1"))
    with pytest.raises(errors.ModelNotFound):
        await turns.prepare(ORG, request)
    await turns.abandon(held)


@pytest.mark.parametrize("kind", ["thread", "chain"])
async def test_a_turn_on_a_default_model_nothing_serves_is_refused(world: World, kind: str) -> None:
    turns = world.service(default_model="nowhere/m")
    with pytest.raises(errors.ModelNotFound):
        await turns.prepare(ORG, on_thread("t1") if kind == "thread" else chained(None, "one"))
    assert not await world.locks.busy(ORG, "t1")


async def test_a_thread_held_by_another_turn_is_busy(world: World) -> None:
    turns = world.service()
    held = await turns.prepare(ORG, on_thread("t1"))
    with pytest.raises(errors.ThreadBusy) as caught:
        await turns.prepare(ORG, on_thread("t1"))
    assert caught.value.message == "Thread 't1' is busy with another turn; try again shortly."
    await turns.abandon(held)


# -- chains of responses (previousResponseId) ----------------------------------------------------


async def test_a_chain_continues_from_the_saved_response_with_its_context(world: World) -> None:
    turns = world.service()
    world.provider.chunks = ("first answer",)
    first = await turns.complete(await turns.prepare(ORG, chained(None, "one", user="alice")))
    assert (first.thread_id, first.previous_response_id, first.user) == (None, None, "alice")
    world.provider.chunks = ("second answer",)
    p = await turns.prepare(ORG, chained(first.id, "two"))
    assert (p.previous_response_id, p.user) == (first.id, "alice")  # the end user carries on
    assert p.request.messages == (user("one"), ChatMessage("assistant", ("first answer",)), user("two"))
    second = await turns.complete(p)
    assert (await turns.get_response(ORG, second.id)).previous_response_id == first.id
    with pytest.raises(errors.ResponseNotFound):
        await turns.get_response(OTHER_ORG, second.id)


async def test_a_chain_from_an_unknown_response_is_not_found(world: World) -> None:
    turns = world.service()
    with pytest.raises(errors.ResponseNotFound) as caught:
        await turns.prepare(ORG, chained("resp_nope", "two"))
    assert caught.value.message == "Response 'resp_nope' was not found."


# -- Idempotency-Key -------------------------------------------------------------------------------


async def test_a_key_is_claimed_once_and_in_flight_until_its_turn_ends(world: World) -> None:
    turns = world.service()
    claim = await turns.claim(ORG, "key-1", "fp")
    assert isinstance(claim, IdemClaimed)
    assert (claim.org, claim.key) == (ORG, "key-1")
    with pytest.raises(errors.IdempotencyInFlight):
        await turns.claim(ORG, "key-1", "fp")
    with pytest.raises(errors.IdempotencyMismatch):
        await turns.claim(ORG, "key-1", "another request")
    assert isinstance(await turns.claim(ORG, "key-2", "fp"), IdemClaimed)


async def test_a_key_whose_holder_ran_past_the_longest_turn_is_free_again(world: World) -> None:
    turns = world.service()
    await turns.claim(ORG, "key-1", "fp")
    world.clock.now += int(MAX_TURN_S * 1_000_000) - 1_000_000
    assert await key_state(turns) == "in flight"
    world.clock.now += 1_000_000 + 5
    assert await key_state(turns) == "free"


@pytest.mark.parametrize("kind", ["thread", "chain", "stream"])
async def test_a_saved_turn_keeps_its_answer_for_its_key(world: World, kind: str) -> None:
    turns = world.service()
    claim = await turns.claim(ORG, "key-1", "fp")
    assert isinstance(claim, IdemClaimed)
    request = chained(None, "one") if kind == "chain" else on_thread("t1")
    p = await turns.prepare(ORG, request, idempotency=claim)
    assert p.idempotency == claim
    if kind == "stream":
        last = (await events_of(turns, p))[-1]
        assert isinstance(last, Completed)
        response = last.response
    else:
        response = await turns.complete(p)
    replay = await turns.claim(ORG, "key-1", "fp")
    assert isinstance(replay, IdemReplay)
    assert replay.response.id == response.id


async def _refused(turns: TurnService, claim: IdemClaimed) -> None:
    with pytest.raises(errors.AssistantNotFound):
        await turns.prepare(ORG, on_thread("t1", assistant_id="asst_nope"), idempotency=claim)


async def _abandoned(turns: TurnService, claim: IdemClaimed) -> None:
    await turns.abandon(await turns.prepare(ORG, on_thread("t1"), idempotency=claim))


async def _model_failed(turns: TurnService, claim: IdemClaimed) -> None:
    request = TurnRequest(model="scripted/solo", inputs=(user("hi"),), target=ThreadTarget(id="t1"))
    p = await turns.prepare(ORG, request, idempotency=claim)
    with pytest.raises(RuntimeError):
        await turns.complete(p)


async def _stream_left(turns: TurnService, claim: IdemClaimed) -> None:
    stream = turns.stream(await turns.prepare(ORG, on_thread("t1"), idempotency=claim))
    assert isinstance(await anext(stream), Created)
    assert isinstance(await anext(stream), Delta)
    await stream.aclose()  # the client went away


async def _stream_failed(turns: TurnService, claim: IdemClaimed) -> None:
    assert isinstance(
        failure(await events_of(turns, await turns.prepare(ORG, on_thread("t1"), idempotency=claim))),
        errors.GatewayError,
    )


NOTHING_SAVED = {
    "refused": (_refused, "refused"),
    "abandoned": (_abandoned, None),
    "model-failed": (_model_failed, "failed"),
    "stream-left": (_stream_left, "abandoned"),
    "stream-failed": (_stream_failed, "failed"),
}


@pytest.mark.parametrize("how", list(NOTHING_SAVED))
async def test_a_turn_that_saves_nothing_frees_its_key_and_its_thread(world: World, how: str) -> None:
    run, outcome = NOTHING_SAVED[how]
    if how in ("model-failed", "stream-failed"):
        world.provider.then = RuntimeError("upstream broke")
    turns = world.service()
    claim = await turns.claim(ORG, "key-1", "fp")
    assert isinstance(claim, IdemClaimed)
    await run(turns, claim)
    assert await key_state(turns) == "free"
    assert not await world.locks.busy(ORG, "t1")
    assert await world.messages("t1") is None
    assert world.probe.outcomes == ([] if outcome is None else [outcome])


class FailingRelease:
    """The store, except that freeing a key fails (the store went away)."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self.idempotency = self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def claim(self, *args: Any, **kwargs: Any) -> Any:
        return await self._store.idempotency.claim(*args, **kwargs)

    async def release(self, claim: IdemClaimed) -> None:
        raise errors.StoreUnavailable("the store is gone")


async def test_a_key_that_cannot_be_freed_is_logged_and_the_turn_error_stands(world: World) -> None:
    turns = world.service(store=FailingRelease(world.store))
    claim = await turns.claim(ORG, "key-1", "fp")
    assert isinstance(claim, IdemClaimed)
    with structlog.testing.capture_logs() as logs:
        await _refused(turns, claim)
    assert [(e["event"], e["log_level"], e.get("exc_info")) for e in logs] == [
        ("idempotency_release_failed", "warning", True)
    ]


# -- streams ---------------------------------------------------------------------------------------


def shapes(events: list[StreamEvent]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for e in events:
        text = e.text if isinstance(e, (Delta, Done)) else None
        out.append((type(e).__name__, text))
    return out


async def test_a_stream_yields_its_deltas_then_saves_the_turn(world: World) -> None:
    world.provider.chunks = ("Hel", "", "lo")
    turns = world.service()
    events = await events_of(turns, await turns.prepare(ORG, on_thread("t1", "hi")))
    assert shapes(events) == [
        ("Created", None),
        ("Delta", "Hel"),
        ("Delta", "lo"),
        ("Done", "Hello"),
        ("Completed", None),
    ]
    last = events[-1]
    assert isinstance(last, Completed)
    assert (last.response.output_text, last.response.status) == ("Hello", "completed")
    assert await world.messages("t1") == [("user", "hi"), ("assistant", "Hello")]
    assert not await world.locks.busy(ORG, "t1")
    assert world.probe.outcomes == ["completed"]
    with pytest.raises(errors.NotFound, match=re.escape("No stream is running on thread 't1'.")):
        await turns.cancel(ORG, "t1")  # the stream is no longer registered


@pytest.mark.parametrize(
    ("then", "kind", "message"),
    [
        ("nothing", errors.ProviderFailed, "The provider's stream ended without a result."),
        (RuntimeError("boom"), errors.InternalError, "The gateway failed to process the request."),
        (errors.ProviderFailed("upstream said no"), errors.ProviderFailed, "upstream said no"),
    ],
    ids=["no-result", "unexpected", "gateway-error"],
)
async def test_a_stream_that_fails_ends_with_its_error_and_saves_nothing(
    world: World, then: str | Exception, kind: type[errors.GatewayError], message: str
) -> None:
    world.provider.then = then
    turns = world.service()
    with structlog.testing.capture_logs() as logs:
        events = await events_of(turns, await turns.prepare(ORG, on_thread("t1")))
    error = failure(events)
    assert (type(error), error.message) == (kind, message)
    assert shapes(events)[:3] == [("Created", None), ("Delta", "Hel"), ("Delta", "lo")]
    assert await world.messages("t1") is None
    assert not await world.locks.busy(ORG, "t1")
    assert world.probe.outcomes == ["failed"]
    logged = [(e["event"], e["log_level"], "exc_info" in e) for e in logs if e["event"] == "stream_failed"]
    assert logged == ([("stream_failed", "error", True)] if kind is errors.InternalError else [])


# -- cancel (SPEC §10) -----------------------------------------------------------------------------


async def cancel_midway(turns: TurnService, p: Prepared, before: int) -> tuple[list[StreamEvent], Any]:
    """Read `before` events, cancel the thread's stream, read the rest: the events and the cancel's
    answer."""
    stream = turns.stream(p)
    events = [await anext(stream) for _ in range(before)]
    assert p.thread_id is not None
    cancel = asyncio.create_task(turns.cancel(p.org, p.thread_id))
    events += [e async for e in stream]
    return events, await cancel


async def test_an_early_cancel_keeps_nothing(world: World) -> None:
    world.provider.chunks, world.provider.then = ("par", "tial"), "hang"
    turns = world.service(quick_edit_s=3_600.0)
    claim = await turns.claim(ORG, "key-1", "fp")
    assert isinstance(claim, IdemClaimed)
    events, answer = await cancel_midway(
        turns, await turns.prepare(ORG, on_thread("t1"), idempotency=claim), 3
    )
    error = failure(events)
    assert (type(error), error.message) == (errors.Cancelled, "The stream was cancelled; nothing was kept.")
    assert (answer.cancel_mode, answer.partial_content_saved, answer.user_message_deleted) == (
        "quick_edit",
        False,
        True,
    )
    assert world.provider.closed
    assert await world.messages("t1") is None
    assert not await world.locks.busy(ORG, "t1")
    assert await key_state(turns) == "free"
    assert world.probe.outcomes == ["cancelled"]


@pytest.mark.parametrize(
    ("chunks", "kept"), [(("par", "tial"), True), ((), False)], ids=["partial", "nothing-yet"]
)
async def test_a_late_cancel_keeps_the_partial_answer_as_a_cancelled_turn(
    world: World, chunks: tuple[str, ...], kept: bool
) -> None:
    world.provider.chunks, world.provider.then = chunks, "hang"
    turns = world.service(quick_edit_s=0.0)
    claim = await turns.claim(ORG, "key-1", "fp")
    assert isinstance(claim, IdemClaimed)
    p = await turns.prepare(ORG, on_thread("t1", "tell me"), idempotency=claim)
    events, answer = await cancel_midway(turns, p, 1 + len(chunks))
    assert (answer.cancel_mode, answer.partial_content_saved) == (
        ("keep_partial", True) if kept else ("quick_edit", False)
    )
    assert not await world.locks.busy(ORG, "t1")
    assert world.probe.outcomes == ["cancelled"]
    if not kept:
        assert isinstance(failure(events), errors.Cancelled)
        assert await world.messages("t1") is None
        return
    last = events[-1]
    assert isinstance(last, Completed)
    response = last.response
    assert (response.output_text, response.status) == ("partial", "cancelled")
    # The partial answer's tokens are estimated by the model's own provider (one per character).
    assert (response.usage.input_tokens, response.usage.output_tokens) == (0, len("partial"))
    assert world.provider.counted[-1] == ChatMessage("assistant", ("partial",))
    assert world.spent == [len("partial")]
    assert await world.messages("t1") == [("user", "tell me"), ("assistant", "partial")]
    assert await key_state(turns) == "replay"


async def test_a_cancel_of_a_thread_with_no_stream_is_not_found(world: World) -> None:
    turns = world.service()
    await turns.complete(await turns.prepare(ORG, on_thread("t1")))
    with pytest.raises(errors.NotFound, match=re.escape("No stream is running on thread 't1'.")) as caught:
        await turns.cancel(ORG, "t1")
    assert not isinstance(caught.value, errors.ThreadNotFound)
    with pytest.raises(errors.ThreadNotFound, match=re.escape("Thread 't2' was not found.")):
        await turns.cancel(ORG, "t2")
    with pytest.raises(errors.ThreadNotFound):
        await turns.cancel(OTHER_ORG, "t1")


async def test_a_cancel_asked_through_the_store_stops_the_stream_and_is_answered_there(world: World) -> None:
    # Another worker process cannot reach this stream: it writes the cancel to the store, which the
    # stream's process polls, and reads the answer back from it.
    world.provider.chunks, world.provider.then = ("par", "tial"), "hang"
    turns = world.service(quick_edit_s=3_600.0)
    stream = turns.stream(await turns.prepare(ORG, on_thread("t1")))
    events = [await anext(stream) for _ in range(3)]
    asked_us = world.clock()
    await world.store.cancels.request_cancel(ORG, "t1", asked_us)
    events += [e async for e in stream]
    assert isinstance(failure(events), errors.Cancelled)
    answer = await world.store.cancels.cancel_answer(ORG, "t1", asked_us)
    assert answer is not None
    outcome = msgspec.json.decode(answer)
    assert (outcome["requested_us"], outcome["cancel_mode"], outcome["partial_content_saved"]) == (
        asked_us,
        "quick_edit",
        False,
    )


async def remembering(world: World) -> tuple[TurnService, str, MemoryService]:
    """A service with memory, and an assistant in `readonly` mode that remembers one fact."""
    memory = MemoryService(world.store, embedder(world.caller(), "echo"), MemorySettings(), clock=world.clock)
    helper = await world.assistants().create(ORG, name="remembers", memory="readonly")
    await memory.create(ORG, helper.id, "Alice drinks green tea", user=None, metadata=None)
    return world.service(memory=memory), helper.id, memory


async def test_a_recalled_memory_is_given_to_the_model_before_the_history(world: World) -> None:
    turns, helper, _ = await remembering(world)
    response = await turns.complete(
        await turns.prepare(ORG, on_thread("t1", "Alice drinks green tea", assistant_id=helper))
    )
    sent = world.provider.requests[-1].messages
    memories = [m for m in sent if m.role == "system" and "- Alice drinks green tea" in m.texts[0]]
    assert len(memories) == 1 and sent.index(memories[0]) < len(sent) - 1  # before the question
    assert [m.memory for m in response.retrieved_memories or ()] == ["Alice drinks green tea"]


async def test_a_recalled_memory_that_does_not_fit_what_the_history_left_is_left_out(world: World) -> None:
    turns, helper, _ = await remembering(world)
    question = on_thread("t1", "Alice drinks green tea", assistant_id=helper)
    # A window that holds the question and the answer's room but not the memories' message too.
    world.provider.window = 1
    while True:
        try:
            await turns.abandon(await turns.prepare(ORG, question))
            break
        except errors.ContextLengthExceeded:
            world.provider.window += 1
    response = await turns.complete(await turns.prepare(ORG, question))
    sent = world.provider.requests[-1].messages
    assert not any(m.role == "system" and "Alice drinks green tea" in m.texts[0] for m in sent)
    assert not response.retrieved_memories
    world.provider.window += 200  # room for it: given again
    response = await turns.complete(
        await turns.prepare(ORG, on_thread("t2", "Alice drinks green tea", assistant_id=helper))
    )
    assert [m.memory for m in response.retrieved_memories or ()] == ["Alice drinks green tea"]


async def test_the_parameters_of_a_request_are_kept_with_its_response(world: World) -> None:
    turns = world.service()
    params = ResponseParams(instructions="be brief", metadata={"k": "v"}, temperature=0.5, user="u1")
    response = await turns.complete(await turns.prepare(ORG, on_thread("t1", "hi", params=params)))
    kept = await world.store.responses.get_response(ORG, response.id, world.clock())
    assert kept is not None and kept.params == params
