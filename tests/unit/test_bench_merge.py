"""The benchmark's merge of a row measured in parts (`tests.bench.load.merged`): the interleaved
rows of the doors are only as right as this arithmetic."""

from __future__ import annotations

import pytest

from tests.bench.load import QUANTILES, Result, merged


def part(latency_ms: float, requests: int, seconds: float) -> Result:
    """A wrk part whose every request took `latency_ms`, plus a tail: its own quantiles from
    `QUANTILES`, the slowest 2% at ten times the rest."""
    quantiles = tuple(latency_ms * (10 if q > 98 else 1) for q in QUANTILES)
    return Result(
        name="part",
        requests=requests,
        errors=1,
        p50=latency_ms,
        p90=latency_ms,
        p99=latency_ms,
        rps=requests / seconds,
        quantiles=quantiles,
        seconds=seconds,
    )


def test_a_merged_row_sums_requests_and_errors_and_takes_the_rate_over_all_its_time() -> None:
    row = merged("row", [part(40, 4_000, 5.0), part(60, 6_000, 5.0)])
    assert (row.requests, row.errors) == (10_000, 2)
    assert row.rps == pytest.approx(1_000)
    assert row.seconds == pytest.approx(10.0)
    assert row.name == "row"


def test_percentiles_are_those_of_the_pooled_requests_weighted_by_each_part() -> None:
    # 40% of the requests at 40 ms, 60% at 60 ms, each part's slowest 2% at ten times its rest.
    # Pooled: 98% at 40 or 60 ms, then 0.8% at 400 and 1.2% at 600, so the 99th is at 600 ms.
    row = merged("row", [part(40, 4_000, 5.0), part(60, 6_000, 5.0)])
    assert (row.p50, row.p90, row.p99) == (60, 60, 600)
    # 70% at 40 ms: the p50 is 40 ms, and 1.4% at 400 then 0.6% at 600 puts the 99th at 400.
    other = merged("row", [part(40, 7_000, 5.0), part(60, 3_000, 5.0)])
    assert (other.p50, other.p90, other.p99) == (40, 60, 400)


def test_one_part_gives_back_its_own_percentiles() -> None:
    single = part(25, 1_000, 2.0)
    row = merged("row", [single])
    assert (row.p50, row.p90, row.p99) == (25, 25, 250)  # the 99th is in its tail
    assert row.rps == pytest.approx(single.rps)


def test_parts_without_quantiles_are_refused() -> None:
    with pytest.raises(ValueError):
        merged("row", [])
    bare = Result(name="paced", requests=10, errors=0, p50=1, p90=1, p99=1, rps=10)
    with pytest.raises(ValueError):
        merged("row", [bare])
