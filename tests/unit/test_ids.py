"""Generated ids (gateway/ids.py): `prefix_`, 11 hex digits of the time in milliseconds, 13 random
hex digits; ids made later sort after, and the random part differs."""

from __future__ import annotations

import os
import re
import time

import pytest

from gateway import ids
from gateway.ids import new_id

_FORM = re.compile(r"^msg_([0-9a-f]{11})([0-9a-f]{13})\Z")


def test_an_id_is_its_prefix_then_its_time_in_milliseconds_then_random_digits() -> None:
    before = time.time_ns() // 1_000_000
    made = new_id("msg")
    after = time.time_ns() // 1_000_000
    found = _FORM.fullmatch(made)
    assert found is not None, made
    assert before <= int(found.group(1), 16) <= after
    assert new_id("thread").startswith("thread_") and len(new_id("thread")) == len("thread_") + 24


def test_ids_of_later_milliseconds_sort_after_and_all_differ() -> None:
    made: list[str] = []
    for _ in range(3):
        made += [new_id("resp") for _ in range(500)]
        time.sleep(0.002)
    assert len(set(made)) == len(made)
    times = [int(m[5:16], 16) for m in made]
    assert times == sorted(times) and times[-1] > times[0]
    # Ids of different milliseconds are in the order they were made.
    firsts = [made[0], made[500], made[1000]]
    assert firsts == sorted(firsts)


def test_the_random_digits_use_all_52_bits() -> None:
    randoms = [int(new_id("msg")[15:], 16) for _ in range(4000)]
    assert max(randoms) < 2**52
    assert max(randoms) > 2**51  # the top bit is set in about half of them
    seen = 0
    for value in randoms:
        seen |= value
    assert seen == 2**52 - 1  # every bit is set in some id


def test_a_forked_worker_draws_its_own_random_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = ids._Pool()
    pool.take(7)
    inherited = pool._buf
    monkeypatch.setattr(os, "getpid", lambda: -1)  # what a fork looks like to the pool
    pool.take(7)
    assert pool._buf is not inherited and pool._buf != inherited
    assert (pool._pos, pool._pid) == (7, -1)
