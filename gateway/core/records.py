"""Internal records shared by the turn logic and the stores (not the wire format)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from gateway.core.memory_records import RetrievedMemory
from providers.base import ChatMessage

State = Literal["open", "locked", "archived"]
Role = Literal["user", "assistant", "system"]
# An assistant's memory mode (SPEC §12).
Memory = Literal["off", "auto", "readonly"]


class ThreadRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A thread as stored. Times are integer microseconds since the epoch."""

    org: str
    id: str
    state: State = "open"
    visible: bool = True
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    message_count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    created_us: int
    updated_us: int
    last_message_us: int | None = None
    expires_us: int
    title: str | None = None
    pinned_us: int | None = None  # when it was pinned; None: not pinned
    last_model: str | None = None  # the model named by its last turn
    edited_us: int | None = None  # when a message of it was last edited or deleted
    # Its assistant (SPEC §11): set when the thread is created, cleared when the assistant is deleted.
    assistant_id: str | None = None
    # Its end user (SPEC §12), set when it is created: the memory scope of its turns that name none.
    user: str | None = None

    @property
    def activity_us(self) -> int:
        """What "newest activity first" sorts by: the last turn, else the creation."""
        return self.last_message_us if self.last_message_us is not None else self.created_us


class MessageRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    role: Role
    texts: tuple[str, ...]
    response_id: str | None
    created_us: int
    thread_id: str | None = None
    seq: int = 0
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class HistoryMessage(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A thread message as a turn's history reads it: its place and what the model sees.

    `array_like`: the SQLite store builds these straight from one JSON array per read. `gc=False`:
    an int and a `ChatMessage` can form no reference cycle.
    """

    seq: int
    message: ChatMessage

    @property
    def role(self) -> Role:
        return self.message.role

    @property
    def texts(self) -> tuple[str, ...]:
        return self.message.texts


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    input_tokens: int = 0
    output_tokens: int = 0


class ResponseParams(msgspec.Struct, frozen=True, kw_only=True):
    """What a request set for its response besides its inputs, kept to be shown again with it (the
    OpenAI door's response object repeats them). Never part of a later turn's context: the
    instructions here were for that request only."""

    instructions: str | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    temperature: float | None = None
    top_p: float | None = None
    max_output_tokens: int | None = None
    user: str | None = None


class ResponseRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A saved response: what it answered and exactly the messages its model saw.

    `context` (without the request's instructions) plus the output is what a later request with
    `previousResponseId` continues from, so that a look-up costs the same whatever the chain length.
    A response of a thread stores no copy: `context_ref` names the thread's messages it saw, as
    inclusive sequence ranges, and the store reads them back with the response (one more indexed
    read), so a turn on a long thread never writes its whole context again.
    """

    org: str
    id: str
    model: str
    created_us: int
    expires_us: int
    thread_id: str | None
    previous_response_id: str | None
    output_message_id: str
    output_text: str
    usage: Usage
    # Memory (SPEC §12): the memories its model was given, and the job writing the turn's facts.
    retrieved_memories: tuple[RetrievedMemory, ...] = ()
    memory_operation_id: str | None = None
    context: tuple[ChatMessage, ...] = ()
    context_ref: tuple[tuple[int, int], ...] | None = None
    # "cancelled": a stream stopped by its client whose partial answer was kept.
    status: str = "completed"
    # The assistant whose profile the turn had (SPEC §11), if any.
    assistant_id: str | None = None
    # What the request set for it, when its door keeps that (None: nothing kept).
    params: ResponseParams | None = None
    # The thread's summary its model was given before the history (SPEC §12), and its tokens.
    summary: str | None = None
    summary_tokens: int = 0
    # The context window of the model that answered (0: not known, an earlier version's record).
    context_limit: int = 0
    # The end user the turn was for (SPEC §12: its memory scope), so that a chain from it keeps it.
    user: str | None = None

    @property
    def scope_user(self) -> str | None:
        """The end user a chain from this response inherits (an earlier version's record kept it in
        `params` only, for the doors that keep those)."""
        if self.user is not None:
            return self.user
        return None if self.params is None else self.params.user


def seq_ranges(seqs: list[int]) -> tuple[tuple[int, int], ...]:
    """Sorted sequence numbers as inclusive ranges: [1, 2, 3, 7] -> ((1, 3), (7, 7))."""
    if not seqs:
        return ()
    ordered = sorted(seqs)
    ranges: list[tuple[int, int]] = []
    start = end = ordered[0]
    for seq in ordered:
        if seq > end + 1:
            ranges.append((start, end))
            start = seq
        end = seq
    ranges.append((start, end))
    return tuple(ranges)


def by_reference(response: ResponseRecord) -> ResponseRecord:
    """What a store keeps of a response of a thread: its context as references, not a copy."""
    if response.context_ref is None or not response.context:
        return response
    return msgspec.structs.replace(response, context=())


def with_turn_inputs(response: ResponseRecord, first_seq: int, inputs: int) -> ResponseRecord:
    """Add a saved turn's inputs (numbered from `first_seq`) to the messages its response saw."""
    if response.context_ref is None or inputs == 0:
        return response
    return msgspec.structs.replace(
        response, context_ref=(*response.context_ref, (first_seq, first_seq + inputs - 1))
    )


class SummaryRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A thread's summary (SPEC §12): what its non-system messages up to `covers_seq` said.

    It belongs to one life of the thread (`thread_created_us`: an id given again after a tombstone
    is another thread) and to its messages as they were (`basis_us`: the thread's `edited_us` when
    they were read, 0 if never edited): a summary whose thread was edited since is not used."""

    org: str
    thread_id: str
    thread_created_us: int
    basis_us: int
    covers_seq: int
    text: str
    model: str  # the model that wrote it
    updated_us: int

    def holds_for(self, thread: ThreadRecord) -> bool:
        """Whether it summarizes `thread` as the thread is now."""
        return self.thread_created_us == thread.created_us and self.basis_us == (thread.edited_us or 0)


class ThreadPatch(msgspec.Struct, frozen=True, kw_only=True):
    """A requested change of a thread; `None` means "leave alone"."""

    metadata: dict[str, Any] | None = None
    state: State | None = None
    visible: bool | None = None
    title: str | None = None  # "" clears it
    pinned: bool | None = None
    assistant_id: str | None = None  # set at creation only: may repeat the thread's own, no more


class MessagePatch(msgspec.Struct, frozen=True, kw_only=True):
    """A requested change of one message; `None` means "leave alone"."""

    content: str | None = None  # the message's one text from now on
    metadata: dict[str, Any] | None = None  # merged key by key; a `None` value removes a key


class ThreadFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which threads a list holds, and in which order (newest activity first by default)."""

    visible: bool = True
    state: State | None = None
    pinned: bool | None = None
    descending: bool = True
    assistant_id: str | None = None  # only the threads of this assistant


class Page[T](msgspec.Struct, frozen=True, kw_only=True):
    """One page of a list, in the list's order; `has_more`: items follow this page."""

    items: list[T]
    has_more: bool
    total: int | None = None  # of the whole list, when asked for


class AssistantRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An assistant as stored (SPEC §11): an organization's profile for a family of threads.
    Times are integer microseconds since the epoch."""

    org: str
    id: str
    name: str
    instructions: str | None = None  # the first system message of its threads' turns
    model: str | None = None  # the model of a turn that names none
    memory: Memory = "off"
    description: str | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    created_us: int
    updated_us: int


class AssistantPatch(msgspec.Struct, frozen=True, kw_only=True):
    """A requested change of an assistant; `None` means "leave alone", "" clears a text."""

    name: str | None = None
    instructions: str | None = None
    model: str | None = None
    memory: Memory | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None  # merged key by key; a `None` value removes a key
