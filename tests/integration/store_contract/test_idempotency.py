"""The store contract for `Idempotency-Key`s (SPEC §15): claims, fencing tokens, kept answers,
expiry and scoping, the same on every backend."""

from __future__ import annotations

from gateway.store.protocols import Backend, IdemClaimed, IdemDone, IdemInFlight, IdemMismatch, IdemReplay
from tests.integration.store_contract.helpers import T0, S, response

HOLD = 10 * S
DAY = 86_400 * S


async def claimed(store: Backend, key: str, at: int = T0, org: str = "o1", fp: str = "fp") -> IdemClaimed:
    got = await store.idempotency.claim(org, key, fp, at_us=at, hold_us=HOLD)
    assert isinstance(got, IdemClaimed), got
    return got


async def test_a_free_key_is_claimed_and_then_in_flight_for_its_hold(store: Backend) -> None:
    first = await claimed(store, "k")
    assert (first.org, first.key, first.token) == ("o1", "k", 1)
    assert isinstance(await store.idempotency.claim("o1", "k", "fp", at_us=T0, hold_us=HOLD), IdemInFlight)
    # Still held one microsecond before the hold ends.
    late = T0 + HOLD - 1
    assert isinstance(await store.idempotency.claim("o1", "k", "fp", at_us=late, hold_us=HOLD), IdemInFlight)


async def test_another_body_under_a_used_key_is_a_mismatch(store: Backend) -> None:
    await claimed(store, "k")
    got = await store.idempotency.claim("o1", "k", "other", at_us=T0, hold_us=HOLD)
    assert isinstance(got, IdemMismatch)


async def test_a_holder_past_its_hold_loses_the_key_to_a_new_claim_with_the_next_token(
    store: Backend,
) -> None:
    first = await claimed(store, "k")
    second = await claimed(store, "k", at=T0 + HOLD)  # the hold ends exactly now: free
    assert second.token == first.token + 1
    third = await claimed(store, "k", at=T0 + 2 * HOLD)
    assert third.token == second.token + 1


async def test_a_kept_answer_is_replayed_to_the_same_body_and_refused_to_another(store: Backend) -> None:
    claim = await claimed(store, "k")
    answer = response("o1")
    await store.responses.save_response(answer, IdemDone(claim=claim, response=answer, expires_us=T0 + DAY))
    # Long after the hold, within the answer's day.
    replay = await store.idempotency.claim("o1", "k", "fp", at_us=T0 + DAY - 1, hold_us=HOLD)
    assert isinstance(replay, IdemReplay)
    assert replay.response.id == answer.id and replay.response.output_text == answer.output_text
    assert isinstance(await store.idempotency.claim("o1", "k", "x", at_us=T0 + S, hold_us=HOLD), IdemMismatch)


async def test_an_expired_answer_frees_the_key(store: Backend) -> None:
    claim = await claimed(store, "k")
    answer = response("o1")
    await store.responses.save_response(answer, IdemDone(claim=claim, response=answer, expires_us=T0 + DAY))
    again = await claimed(store, "k", at=T0 + DAY)  # expired at its expiry exactly
    assert again.token == claim.token + 1
    # The new claim is in flight, not a replay of the old answer, and takes any body.
    assert isinstance(
        await store.idempotency.claim("o1", "k", "fp", at_us=T0 + DAY, hold_us=HOLD), IdemInFlight
    )


async def test_a_late_holder_cannot_keep_its_answer(store: Backend) -> None:
    stale = await claimed(store, "k")
    fresh = await claimed(store, "k", at=T0 + HOLD)
    answer = response("o1")
    await store.responses.save_response(answer, IdemDone(claim=stale, response=answer, expires_us=T0 + DAY))
    # The fresh holder still holds the key: no replay of the stale holder's answer.
    got = await store.idempotency.claim("o1", "k", "fp", at_us=T0 + HOLD + 1, hold_us=HOLD)
    assert isinstance(got, IdemInFlight)
    mine = response("o1")
    await store.responses.save_response(mine, IdemDone(claim=fresh, response=mine, expires_us=T0 + DAY))
    replay = await store.idempotency.claim("o1", "k", "fp", at_us=T0 + HOLD + 2, hold_us=HOLD)
    assert isinstance(replay, IdemReplay) and replay.response.id == mine.id


async def test_a_released_key_is_free_again(store: Backend) -> None:
    claim = await claimed(store, "k")
    await store.idempotency.release(claim)
    assert (await claimed(store, "k")).token >= 1


async def test_keys_are_scoped_by_organization(store: Backend) -> None:
    await claimed(store, "k", org="o1")
    other = await claimed(store, "k", org="o2", fp="another body")  # no mismatch across tenants
    assert other.org == "o2"
    assert isinstance(await store.idempotency.claim("o1", "k", "fp", at_us=T0, hold_us=HOLD), IdemInFlight)
