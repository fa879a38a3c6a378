"""A few seconds of the benchmark, so that `make bench` keeps working (no speed goal is asserted)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest


@pytest.mark.skipif(
    shutil.which("wrk") is None or shutil.which("hey") is None,
    reason="wrk and hey come from Debian's packages (make test-deps installs them)",
)
def test_benchmark_smoke_prints_its_table_without_errors() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tests.bench", "--smoke"], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    table = [line for line in run.stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| scenario")
    scenarios = [line.split("|")[1].strip() for line in table[1:]]
    assert "direct upstream, 64 conns" in scenarios
    assert any(s.startswith("gateway openai, thread of 10,") for s in scenarios)
    assert any("streaming" in s for s in scenarios)
    assert any(s.startswith("gateway openai, memory readonly over 10,000 memories,") for s in scenarios)
    assert any(s.startswith("gateway openai, long thread with summaries") for s in scenarios)
    # Portkey's rows when it is installed (--smoke does not install it), else the line saying why.
    assert any(s.startswith("portkey ") for s in scenarios) or "rows skipped" in run.stdout
    for line in table[1:]:
        cells = [c.strip() for c in line.split("|")[1:-1]]
        assert int(cells[1].replace(",", "")) > 0  # requests
        assert cells[2] == "0"  # errors
