"""The context budget (SPEC §6) on its own: what fits, what is refused, how history is read."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from gateway.core.budget import BATCH, MAX_BATCH, MIN_BATCH, Budget, batch_for, fit_history, fit_in_memory
from gateway.errors import ContextLengthExceeded
from providers.base import ChatMessage


def msg(role: str, text: str) -> ChatMessage:
    return ChatMessage(role, (text,))  # type: ignore[arg-type]


def chars(message: ChatMessage) -> int:
    return len(message.text)


def test_inputs_that_fill_the_window_exactly_are_accepted_with_nothing_left() -> None:
    budget = Budget(10, [msg("user", "x" * 4), msg("user", "y" * 6)], chars)
    assert budget.remaining == 0


def test_inputs_over_the_window_are_refused_with_both_sizes() -> None:
    with pytest.raises(ContextLengthExceeded) as caught:
        Budget(10, [msg("user", "x" * 11)], chars)
    assert caught.value.details == {"required_tokens": 11, "context_tokens": 10}
    assert str(caught.value) == "The new inputs need 11 tokens; the model's context budget is 10."


def test_take_fits_exactly_then_refuses_without_spending() -> None:
    budget = Budget(10, [], chars)
    assert budget.cost(msg("user", "abc")) == 3
    assert budget.take(msg("user", "x" * 7)) is True
    assert budget.remaining == 3
    assert budget.take(msg("user", "x" * 4)) is False
    assert budget.remaining == 3
    assert budget.take(msg("user", "x" * 3)) is True
    assert budget.remaining == 0


def test_give_back_returns_what_take_took() -> None:
    budget = Budget(10, [], chars)
    taken = msg("user", "x" * 6)
    assert budget.take(taken)
    budget.give_back(taken)
    assert budget.remaining == 10
    budget.give_back(msg("user", "yy"))
    assert budget.remaining == 12


def test_fit_stops_at_the_first_message_that_does_not_fit() -> None:
    budget = Budget(10, [], chars)
    taken = budget.fit([msg("user", "x" * 4), msg("user", "x" * 6), msg("user", "x")])
    assert (taken, budget.remaining) == (2, 0)


@pytest.mark.parametrize(
    ("remaining", "per_message", "wanted"),
    [
        (None, None, BATCH),  # nothing known of the sizes yet: the first batch
        (1000, 10.0, 133),  # what the rest holds at the sizes seen, a quarter more, and 8 spare
        (100, 0.5, 133),  # sizes under one token count as one
        (10, 5.0, MIN_BATCH),
        (10**9, 1.0, MAX_BATCH),
    ],
)
def test_batch_size_follows_the_sizes_seen(
    remaining: int | None, per_message: float | None, wanted: int
) -> None:
    assert batch_for(remaining or 0, per_message) == wanted


async def test_a_system_message_that_does_not_fit_still_leaves_the_history_read() -> None:
    budget = Budget(5, [], chars)
    history = [msg("user", "a"), msg("user", "b")]

    async def fetch(last: ChatMessage | None, limit: int) -> Sequence[ChatMessage]:
        return [] if last is not None else list(reversed(history))

    chosen = await fit_history(
        budget,
        system=[msg("system", "s" * 9)],
        fetch_recent=fetch,
        chat=lambda m: m,
        position=history.index,
    )
    assert chosen == history


async def test_system_messages_are_kept_first_then_the_newest_others() -> None:
    messages = [msg("system", "rule"), msg("user", "old one"), msg("assistant", "mid"), msg("user", "new")]
    budget = Budget(len("rule") + len("mid") + len("new"), [], chars)
    assert await fit_in_memory(budget, messages) == [messages[0], messages[2], messages[3]]
    assert budget.remaining == 0


async def test_a_long_history_is_read_batch_after_batch_each_message_once_in_order() -> None:
    messages = [msg("user", f"m{i:04d}") for i in range(BATCH * 3 + 5)]
    budget = Budget(10**6, [], chars)
    assert await fit_in_memory(budget, messages) == messages


async def test_when_everything_fits_each_message_is_kept_once_system_included() -> None:
    messages = [msg("user", "a"), msg("system", "rule"), msg("assistant", "b"), msg("user", "c")]
    budget = Budget(100, [], chars)
    assert await fit_in_memory(budget, messages) == messages
    assert budget.remaining == 100 - 7


def test_the_inline_estimate_fits_exactly_what_the_providers_count_would() -> None:
    """`framing` makes `fit` compute `estimate_tokens` itself: for every provider that declares
    its framing, the same messages are taken and the same tokens left as through its count."""
    import random

    from providers.anthropic import AnthropicProvider
    from providers.base import estimate_tokens
    from providers.compatible import OpenAICompatibleProvider
    from providers.echo import EchoProvider

    adapters = [
        EchoProvider(),
        AnthropicProvider(api_key="k"),
        OpenAICompatibleProvider(name="x", base_url="http://127.0.0.1:9/v1", api_key="k"),
    ]
    rng = random.Random(11)
    for adapter in adapters:
        framing = adapter.token_framing
        for _ in range(300):
            messages = [
                ChatMessage("user", tuple("é" * rng.randrange(0, 40) for _ in range(rng.randrange(1, 4))))
                for _ in range(rng.randrange(0, 30))
            ]
            for message in messages:
                assert adapter.count_tokens(message) == estimate_tokens(message, framing)
            window = rng.randrange(0, 400)
            inline = Budget(window, [], adapter.count_tokens, framing=framing)
            counted = Budget(window, [], adapter.count_tokens)
            assert inline.fit(messages) == counted.fit(messages)
            assert inline.remaining == counted.remaining
