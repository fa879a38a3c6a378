"""The store's lifecycle rules (gateway.store.lifecycle), which every backend applies: an id's
standing, create and turn on it, list membership of a cursor, pages, and idempotency records."""

from __future__ import annotations

import msgspec
import pytest

from gateway.core.records import ThreadFilter, ThreadRecord
from gateway.core.rules import Limits, new_thread
from gateway.errors import ThreadAlreadyExists, ThreadNotFound
from gateway.store.lifecycle import (
    IdemRecord,
    Standing,
    check_create,
    idem_standing,
    in_thread_list,
    is_gone,
    next_token,
    page,
    standing,
    turn_base,
)
from gateway.store.protocols import IdemInFlight, IdemMismatch, IdemReplay
from tests.integration.store_contract.helpers import response

S = 1_000_000
T0 = 1_800_000_000 * S
LIMITS = Limits(
    max_messages=10, max_metadata_bytes=1024, idle_us=100 * S, max_age_us=1000 * S, response_ttl_us=S
)


def thread(tid: str = "t", **kw: object) -> ThreadRecord:
    t = new_thread("o1", tid, metadata=None, visible=True, limits=LIMITS, at_us=T0)
    return msgspec.structs.replace(t, **kw) if kw else t


def test_standing_of_an_id() -> None:
    live = thread()
    assert standing(live, None, T0) is Standing.LIVE
    assert standing(live, None, live.expires_us - 1) is Standing.LIVE
    assert standing(live, None, live.expires_us) is Standing.EXPIRED  # expired at its expiry exactly
    assert standing(None, T0 + 5, T0) is Standing.TOMBSTONED
    assert standing(None, T0, T0) is Standing.FREE  # a tombstone ends at its end exactly
    assert standing(None, None, T0) is Standing.FREE
    assert [is_gone(s) for s in Standing] == [False, True, True, False]


def test_an_explicit_create_refuses_only_a_live_id() -> None:
    with pytest.raises(ThreadAlreadyExists) as caught:
        check_create(Standing.LIVE, "t_1")
    assert str(caught.value) == "Thread 't_1' already exists."
    for s in (Standing.EXPIRED, Standing.TOMBSTONED, Standing.FREE):
        check_create(s, "t_1")  # a deleted, expired or unused id may be created


def test_a_turn_extends_a_live_thread_and_creates_only_on_a_free_id() -> None:
    live, made = thread("t_live"), thread("t_new")
    assert turn_base(Standing.LIVE, live, made, "t_live") == (live, False)
    assert turn_base(Standing.FREE, None, made, "t_new") == (made, True)
    refused = [
        (Standing.FREE, None, None),  # no create given: not found
        (Standing.TOMBSTONED, None, made),  # a deleted id is not reborn by a turn
        (Standing.EXPIRED, live, made),  # nor an expired one
        (Standing.LIVE, None, made),  # (a live standing always comes with its thread)
    ]
    for s, t, create in refused:
        with pytest.raises(ThreadNotFound) as caught:
            turn_base(s, t, create, "t_x")
        assert str(caught.value) == "Thread 't_x' was not found.", s


def test_list_membership_follows_every_filter() -> None:
    t = thread()
    at = T0
    assert in_thread_list(t, ThreadFilter(), at)
    assert not in_thread_list(None, ThreadFilter(), at)
    assert not in_thread_list(t, ThreadFilter(), t.expires_us)  # expired: in no list
    assert not in_thread_list(t, ThreadFilter(visible=False), at)
    hidden = msgspec.structs.replace(t, visible=False)
    assert in_thread_list(hidden, ThreadFilter(visible=False), at)
    assert not in_thread_list(hidden, ThreadFilter(), at)
    assert in_thread_list(t, ThreadFilter(state="open"), at)
    assert not in_thread_list(t, ThreadFilter(state="locked"), at)
    locked = msgspec.structs.replace(t, state="locked")
    assert in_thread_list(locked, ThreadFilter(state="locked"), at)
    assert in_thread_list(locked, ThreadFilter(), at)  # no state filter: any state
    assert not in_thread_list(t, ThreadFilter(pinned=True), at)
    assert in_thread_list(t, ThreadFilter(pinned=False), at)
    pinned = msgspec.structs.replace(t, pinned_us=T0)
    assert in_thread_list(pinned, ThreadFilter(pinned=True), at)
    assert not in_thread_list(pinned, ThreadFilter(pinned=False), at)
    assert in_thread_list(pinned, ThreadFilter(), at)
    assert not in_thread_list(t, ThreadFilter(assistant_id="asst_1"), at)
    mine = msgspec.structs.replace(t, assistant_id="asst_1")
    assert in_thread_list(mine, ThreadFilter(assistant_id="asst_1"), at)
    assert not in_thread_list(mine, ThreadFilter(assistant_id="asst_2"), at)


def test_a_page_keeps_limit_rows_and_says_whether_more_follow() -> None:
    assert page([1, 2, 3], 3) == page([1, 2, 3], 3, backwards=False)
    full = page([1, 2, 3], 3)
    assert (full.items, full.has_more, full.total) == ([1, 2, 3], False, None)
    more = page([1, 2, 3, 4], 3, total=9)
    assert (more.items, more.has_more, more.total) == ([1, 2, 3], True, 9)
    back = page([5, 4, 3, 2], 3, backwards=True)
    assert (back.items, back.has_more) == ([3, 4, 5], True)
    assert page([], 3).items == [] and not page([], 3).has_more


def idem(fingerprint: str = "fp", **kw: object) -> IdemRecord:
    fields: dict[str, object] = {
        "fingerprint": fingerprint,
        "token": 4,
        "held_until_us": T0 + 10,
        "answer": None,
        "expires_us": T0 + 100,
    }
    return IdemRecord(**{**fields, **kw})  # type: ignore[arg-type]


def test_what_an_idempotency_record_means_for_a_new_request() -> None:
    assert idem_standing(None, "fp", T0) is None
    assert isinstance(idem_standing(idem(), "fp", T0), IdemInFlight)
    assert isinstance(idem_standing(idem(), "fp", T0 + 9), IdemInFlight)
    assert idem_standing(idem(), "fp", T0 + 10) is None  # its holder's time is up at its end exactly
    assert isinstance(idem_standing(idem(), "other", T0), IdemMismatch)
    assert isinstance(idem_standing(idem(), "other", T0 + 50), IdemMismatch)  # even once not held
    answer = response("o1")
    replay = idem_standing(idem(answer=answer), "fp", T0 + 50)
    assert isinstance(replay, IdemReplay) and replay.response == answer
    assert isinstance(idem_standing(idem(answer=answer), "other", T0), IdemMismatch)
    assert idem_standing(idem(answer=answer), "fp", T0 + 100) is None  # expired at its expiry
    assert idem_standing(idem(answer=answer), "other", T0 + 100) is None


def test_the_fencing_token_of_a_claim() -> None:
    assert next_token(None) == 1
    assert next_token(idem(token=4)) == 5
    assert next_token(idem(token=1)) == 2
