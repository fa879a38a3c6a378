"""The persistence seams: one narrow Protocol per aggregate, and the backend that holds them.

A backend (SQLite, MongoDB) is one database with its life (`open`, `close`, `ping`, retention) and
one object per aggregate (`threads`, `responses`). A new aggregate (assistants, memories, jobs) is
one more Protocol here and one more attribute of `Backend`, implemented by one new class per
backend; the existing classes do not change.

Every method is scoped by organization. Rules stay in `gateway.core.rules` and the backend-neutral
steps in `gateway.store.lifecycle`: a store runs the functions it is given inside its atomic
section, so they hold under concurrency and across processes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import msgspec

from gateway.core.memory_records import MemoryChange, MemoryRecord, ScopeVectors
from gateway.core.records import (
    AssistantRecord,
    HistoryMessage,
    MessageRecord,
    Page,
    ResponseRecord,
    State,
    SummaryRecord,
    ThreadRecord,
)
from gateway.store.jobs import JobStore, NewJob

ThreadUpdate = Callable[[ThreadRecord], ThreadRecord]
MessageEdit = Callable[[MessageRecord], MessageRecord]
AssistantUpdate = Callable[[AssistantRecord], AssistantRecord]


class PurgeReport(msgspec.Struct, frozen=True, kw_only=True):
    threads: int = 0
    responses: int = 0
    tombstones: int = 0
    # (organization, response id) of every response removed, for cache invalidation.
    response_ids: tuple[tuple[str, str], ...] = ()


class TurnView(msgspec.Struct, frozen=True, kw_only=True):
    """What a turn needs to know of its thread before calling the model, read in one go."""

    thread: ThreadRecord | None
    tombstoned: bool = False
    system: list[HistoryMessage] = msgspec.field(default_factory=list)  # newest first
    recent: list[HistoryMessage] = msgspec.field(default_factory=list)  # non-system, newest first


class TurnLease(msgspec.Struct, frozen=True, kw_only=True):
    """The right to append the next turn of one thread, held from before its history is read until
    its turn is saved (or abandoned). `token` fences: a lease taken over after it expired has a
    higher one, and a store that can tell refuses the older holder's write."""

    org: str
    thread_id: str
    token: int


class IdemClaimed(msgspec.Struct, frozen=True, kw_only=True):
    """This request holds its `Idempotency-Key`: it runs, and its saved turn records its answer."""

    org: str
    key: str
    token: int


class IdemReplay(msgspec.Struct, frozen=True, kw_only=True):
    """The key's first request saved this answer: it is answered again, nothing runs."""

    response: ResponseRecord


class IdemInFlight(msgspec.Struct, frozen=True):
    """The key's first request is still running."""


class IdemMismatch(msgspec.Struct, frozen=True):
    """The key was used with another request."""


IdemClaim = IdemClaimed | IdemReplay | IdemInFlight | IdemMismatch


class IdemDone(msgspec.Struct, frozen=True, kw_only=True):
    """The answer a claimed key keeps, written with the turn that made it (same transaction)."""

    claim: IdemClaimed
    response: ResponseRecord  # without its context: the answer, not what the model saw
    expires_us: int


class TurnWrite(msgspec.Struct, frozen=True, kw_only=True):
    """One turn to append: its messages (the inputs, then the output) and its response.

    `response` is stored by reference (`by_reference`): the store adds the inputs' sequence range to
    its `context_ref` (see `with_turn_inputs`). The thread is created from `create` when absent
    (unless tombstoned); `update` checks the rules and returns the thread after the turn; a raise
    from it saves nothing.
    """

    org: str
    thread_id: str
    create: ThreadRecord | None
    messages: Sequence[MessageRecord]
    response: ResponseRecord
    update: ThreadUpdate
    at_us: int
    # The lease the turn was prepared under (None: written without one, as the store tests do).
    lease: TurnLease | None = None
    # The idempotency key's answer, kept with the turn (None: the request had no key).
    idempotency: IdemDone | None = None
    # Background work the turn asks for (a memory write), enqueued in the same write (the outbox).
    jobs: Sequence[NewJob] = ()


class CursorNotFound(Exception):
    """The `after` cursor names no item of the list."""


class ThreadStore(Protocol):
    """Threads, their messages, and the turns that append to them."""

    async def create_thread(self, thread: ThreadRecord) -> ThreadRecord:
        """Insert; an expired or deleted id is replaced. Raise `ThreadAlreadyExists` when live."""

    async def get_thread(self, org: str, thread_id: str, at_us: int) -> ThreadRecord | None:
        """The live thread, or None. A thread found expired is purged and tombstoned here."""

    async def is_tombstoned(self, org: str, thread_id: str, at_us: int) -> bool: ...

    async def turn_view(
        self, org: str, thread_id: str, *, at_us: int, system_limit: int, recent_limit: int
    ) -> TurnView:
        """The live thread (or whether its id is tombstoned), its system messages and the first
        batch of its history tail, in one round trip where the backend allows."""

    async def list_threads(
        self,
        org: str,
        *,
        visible: bool,
        state: State | None,
        limit: int,
        after: str | None,
        at_us: int,
        pinned: bool | None = None,
        descending: bool = True,
        before: str | None = None,
        with_total: bool = False,
        assistant_id: str | None = None,
    ) -> Page[ThreadRecord]:
        """By activity, newest first unless not `descending`; the page after `after` or before
        `before`, both items of the same list, else `CursorNotFound`; `total` when asked;
        only the threads of `assistant_id` when given."""

    async def update_thread(self, org: str, thread_id: str, update: ThreadUpdate, at_us: int) -> ThreadRecord:
        """Read, apply `update`, write, atomically. Raise `ThreadNotFound` when absent."""

    async def delete_thread(self, org: str, thread_id: str, at_us: int) -> tuple[str, ...] | None:
        """Delete the thread, its messages and its responses; leave a tombstone.

        Returns the deleted response ids (for cache invalidation), or None when absent.
        """

    async def delete_all_threads(self, org: str, at_us: int) -> tuple[int, tuple[str, ...]]:
        """Delete (and tombstone) every thread of `org`; how many were live, and the response ids
        removed with them."""

    async def update_message(
        self, org: str, thread_id: str, message_id: str, edit: MessageEdit, at_us: int
    ) -> MessageRecord:
        """Apply `edit` to one message of an open thread (`MessageNotFound`, `ThreadLocked` ...);
        the thread's `edited_us` is set, so cached responses made before are not served."""

    async def delete_message(self, org: str, thread_id: str, message_id: str, at_us: int) -> None:
        """Delete one message of an open thread; its count goes down, sequence numbers stay."""

    async def list_messages(
        self,
        org: str,
        thread_id: str,
        *,
        limit: int,
        after: str | None,
        descending: bool,
        at_us: int,
        before: str | None = None,
    ) -> Page[MessageRecord] | None:
        """Messages by sequence, the page after `after` or before `before`; None when the thread
        is absent."""

    async def recent_messages(
        self, org: str, thread_id: str, *, before_seq: int | None, limit: int
    ) -> list[HistoryMessage]:
        """Non-system messages, newest first, older than `before_seq` (the history tail)."""

    async def system_messages(self, org: str, thread_id: str, *, limit: int) -> list[HistoryMessage]:
        """System messages, newest first."""

    async def append_turn(self, turn: TurnWrite) -> ThreadRecord:
        """Append a turn atomically: messages in order, with no other turn between them."""


class ResponseStore(Protocol):
    """Responses kept for `previousResponseId` (24 hours by default)."""

    async def save_response(
        self, response: ResponseRecord, idempotency: IdemDone | None = None, jobs: Sequence[NewJob] = ()
    ) -> None:
        """Insert, with the idempotency key's answer when given and the jobs the response asks for
        (a chain's memory write: the outbox), in the same atomic write where the backend allows.
        Without transactions (MongoDB standalone) the response is written first, then the jobs,
        then the key's answer: a failure part way fails the call, and leaves at worst a response
        no client was given, never a job or a kept answer without their response."""

    async def get_response(self, org: str, response_id: str, at_us: int) -> ResponseRecord | None:
        """The live response with its `context` filled in, or None (unknown, expired or another
        organization's, or the thread messages it saw are gone)."""

    async def delete_response(self, org: str, response_id: str, at_us: int) -> bool:
        """Remove one live response (the messages of its thread stay); False when there is none."""


class AssistantStore(Protocol):
    """Assistants (SPEC §11), unique by (organization, id)."""

    async def create_assistant(self, assistant: AssistantRecord) -> AssistantRecord:
        """Insert; raise `AssistantAlreadyExists` when the organization has one of that id."""

    async def get_assistant(self, org: str, assistant_id: str) -> AssistantRecord | None: ...

    async def list_assistants(
        self, org: str, *, limit: int, offset: int, search: str | None
    ) -> Page[AssistantRecord]:
        """Newest first (by creation, then id); `search`: only those whose name contains it,
        case-insensitively; `total` is the count of the whole (searched) list."""

    async def update_assistant(
        self, org: str, assistant_id: str, update: AssistantUpdate, at_us: int
    ) -> AssistantRecord:
        """Read, apply `update`, write, atomically. Raise `AssistantNotFound` when absent."""

    async def delete_assistant(self, org: str, assistant_id: str, at_us: int) -> int | None:
        """Delete the assistant and everything it owns (its memories, once they exist), and detach
        its threads (their `assistant_id` becomes None), in one atomic step where the backend
        allows. Returns how many threads were detached, or None when absent."""


class MemoryStore(Protocol):
    """Memories (SPEC §12), unique by (organization, assistant, id). Every write to an assistant's
    memories moves its scope's version on, in the same atomic step."""

    async def add_memory(self, memory: MemoryRecord) -> MemoryRecord: ...

    async def get_memory(self, org: str, assistant_id: str, memory_id: str) -> MemoryRecord | None: ...

    async def update_memory(
        self, org: str, assistant_id: str, memory_id: str, change: MemoryChange
    ) -> MemoryRecord | None:
        """The memory after the change, or None when absent."""

    async def delete_memory(self, org: str, assistant_id: str, memory_id: str) -> bool: ...

    async def list_memories(
        self, org: str, assistant_id: str, *, user: str | None, limit: int, offset: int
    ) -> Page[MemoryRecord]:
        """Newest first (by creation, then id), with `total`; `user`: only that user's memories and
        the assistant-wide ones; None: all of them."""

    async def scope_version(self, org: str, assistant_id: str) -> int:
        """The assistant's count of memory writes (0 before the first)."""

    async def scope_vectors(self, org: str, assistant_id: str) -> ScopeVectors:
        """Every memory of the assistant, as a search reads them, with the version they are at."""


class SummaryStore(Protocol):
    """Thread summaries (SPEC §12): one per thread, removed with its thread."""

    async def get_summary(self, org: str, thread_id: str) -> SummaryRecord | None: ...

    async def put_summary(self, summary: SummaryRecord) -> bool:
        """Keep `summary` if its thread lives in the summary's generation and it is newer than the
        one kept (a later basis, or the same basis and more messages covered); False otherwise."""


class SharedLocks(Protocol):
    """Turn leases across processes and replicas (the backend's part of `gateway.store.locks`)."""

    # Whether a held lease must be renewed before its time to live runs out (False: it lasts as
    # long as the process holding it).
    renews: bool

    async def try_acquire(self, org: str, thread_id: str, *, ttl_s: float) -> TurnLease | None:
        """The lease when it is free (or its holder's time ran out), else None at once."""

    async def renew(self, lease: TurnLease, *, ttl_s: float) -> bool:
        """Extend a lease still held; False when it was lost."""

    async def release(self, lease: TurnLease) -> None:
        """Give the lease up (a lease already lost is left alone)."""


class IdempotencyStore(Protocol):
    """`Idempotency-Key`s: scoped by organization, an answer kept for a day (SPEC §15)."""

    async def claim(self, org: str, key: str, fingerprint: str, *, at_us: int, hold_us: int) -> IdemClaim:
        """Take the key for a request (atomically): a free key, or one whose holder ran past
        `hold_us`, is claimed; a key used with another fingerprint is a mismatch; a key with a
        kept answer replays it; a key held is in flight."""

    async def release(self, claim: IdemClaimed) -> None:
        """The claimed request saved nothing: the key is free for a retry."""


class CancelStore(Protocol):
    """Cancels of running streams between processes: one request (and its answer) per thread."""

    async def request_cancel(self, org: str, thread_id: str, at_us: int) -> None:
        """Ask the process that runs the thread's stream to stop it (replaces an older request)."""

    async def cancel_requested(self, org: str, thread_id: str, since_us: int) -> int | None:
        """The time of a request made at or after `since_us` and not answered yet, if any."""

    async def answer_cancel(self, org: str, thread_id: str, requested_us: int, outcome: bytes) -> None: ...

    async def cancel_answer(self, org: str, thread_id: str, requested_us: int) -> bytes | None:
        """The answer to the request made at `requested_us`, once written."""


class Backend(Protocol):
    """One database: its life and its aggregates."""

    name: str

    @property
    def threads(self) -> ThreadStore: ...

    @property
    def responses(self) -> ResponseStore: ...

    @property
    def assistants(self) -> AssistantStore: ...

    @property
    def turn_locks(self) -> SharedLocks: ...

    @property
    def idempotency(self) -> IdempotencyStore: ...

    @property
    def cancels(self) -> CancelStore: ...

    @property
    def jobs(self) -> JobStore: ...

    @property
    def memories(self) -> MemoryStore: ...

    @property
    def summaries(self) -> SummaryStore: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise when the store cannot answer."""

    async def purge_expired(self, at_us: int) -> PurgeReport: ...


class KeyRecord(msgspec.Struct, frozen=True):
    """An API key kept in the store (SPEC §15): never the key itself, only its digest beside it."""

    id: str
    org: str
    name: str | None
    created_us: int
    last_used_us: int | None = None
    revoked_us: int | None = None


class KeyStore(Protocol):
    async def create_key(self, record: KeyRecord, digest: bytes) -> None: ...

    async def list_keys(self, org: str | None) -> list[KeyRecord]: ...

    async def revoke_key(self, key_id: str, at_us: int) -> bool: ...

    async def keys_marker(self) -> tuple[int, int]:
        """A cheap change marker (count, latest update): the snapshot is reloaded when it moves."""
        ...

    async def live_keys(self) -> dict[bytes, tuple[str, str]]:
        """digest -> (id, organization) of every key not revoked."""
        ...

    async def find_key(self, digest: bytes) -> tuple[str, str] | None: ...

    async def touch_keys(self, key_ids: list[str], at_us: int) -> None: ...
