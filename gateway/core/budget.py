"""The context budget (SPEC §6): the newest history that fits, system messages kept.

The history is read newest first in small batches and reading stops at the first message that does
not fit, so the cost of a turn is bounded by the budget, not by the length of the thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from gateway.errors import ContextLengthExceeded
from providers.base import ChatMessage

Counter = Callable[[ChatMessage], int]
BATCH = 64  # the first read when nothing is known of the thread's message sizes
MIN_BATCH = 16
MAX_BATCH = 1024


def batch_for(remaining: int, tokens_per_message: float | None) -> int:
    """How many messages to read to fill `remaining` tokens at about `tokens_per_message` each."""
    if tokens_per_message is None:
        return BATCH
    wanted = int(remaining / max(tokens_per_message, 1.0) * 1.25) + 8
    return min(max(MIN_BATCH, wanted), MAX_BATCH)


class Budget:
    """Tokens left for history once the request's own messages are counted."""

    def __init__(
        self, window: int, required: Sequence[ChatMessage], count: Counter, *, framing: int | None = None
    ) -> None:
        """`framing`: when `count` is `providers.base.estimate_tokens` with this framing (the
        provider's `token_framing`), which `fit` then computes inline for a whole window."""
        self._count = count
        self._framing = framing
        needed = sum(count(m) for m in required)
        if needed > window:
            raise ContextLengthExceeded(
                f"The new inputs need {needed} tokens; the model's context budget is {window}.",
                details={"required_tokens": needed, "context_tokens": window},
            )
        self.remaining = window - needed

    def cost(self, message: ChatMessage) -> int:
        return self._count(message)

    def give_back(self, message: ChatMessage) -> None:
        """Return what an earlier `take` of `message` took."""
        self.remaining += self._count(message)

    def fit(self, messages: Sequence[ChatMessage]) -> int:
        """Take the leading `messages` while they fit; how many were taken."""
        remaining, taken, framing = self.remaining, 0, self._framing
        if framing is not None:  # `estimate_tokens`, inline: a call and a property less a message
            for message in messages:
                texts = message.texts
                chars = len(texts[0]) if len(texts) == 1 else sum(map(len, texts))
                cost = (chars + 3) // 4 + framing
                if cost > remaining:
                    break
                remaining -= cost
                taken += 1
        else:
            count = self._count
            for message in messages:
                cost = count(message)
                if cost > remaining:
                    break
                remaining -= cost
                taken += 1
        self.remaining = remaining
        return taken

    def take(self, message: ChatMessage) -> bool:
        cost = self._count(message)
        if cost > self.remaining:
            return False
        self.remaining -= cost
        return True


async def fit_history[M](
    budget: Budget,
    *,
    system: Sequence[M],
    fetch_recent: Callable[[M | None, int], Awaitable[Sequence[M]]],
    chat: Callable[[M], ChatMessage],
    position: Callable[[M], int],
    first: int = BATCH,
) -> list[M]:
    """Choose the history the model sees, in original order.

    `system` are the system messages, newest first; they are taken first. `fetch_recent(last, n)`
    returns the next batch (newest first, up to `n`) of other messages older than `last`; fewer
    than `n` means there are no more. The first batch asks for `first`; each later one for about
    what the rest of the budget holds at the sizes seen so far, so a long thread costs one or two
    reads.
    """
    chosen: list[M] = []
    for message in system:
        if not budget.take(chat(message)):
            break
        chosen.append(message)
    last: M | None = None
    limit = first
    while True:
        before = budget.remaining
        batch = await fetch_recent(last, limit)
        taken = budget.fit(list(map(chat, batch)))
        chosen.extend(batch[:taken])
        if taken < len(batch) or len(batch) < limit:
            return sorted(chosen, key=position)
        last = batch[-1]
        limit = batch_for(budget.remaining, (before - budget.remaining) / len(batch))


async def fit_in_memory(budget: Budget, messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """`fit_history` over a list held in memory (a stored response's context)."""
    indexed = list(enumerate(messages))
    system = [im for im in reversed(indexed) if im[1].role == "system"]
    others = [im for im in reversed(indexed) if im[1].role != "system"]

    async def fetch(last: tuple[int, ChatMessage] | None, limit: int) -> list[tuple[int, ChatMessage]]:
        start = 0 if last is None else others.index(last) + 1
        return others[start : start + limit]

    chosen = await fit_history(
        budget, system=system, fetch_recent=fetch, chat=lambda im: im[1], position=lambda im: im[0]
    )
    return [m for _, m in chosen]
