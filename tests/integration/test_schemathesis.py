"""A short, seeded Schemathesis run in the suite (`tests.fuzz`): 0 5xx, and every answer as the
OpenAPI document says. `make bench BENCH_ARGS=--fuzz` runs a long one."""

from __future__ import annotations

from pathlib import Path

from tests.fuzz import fuzz
from tests.gateway_process import start_gateway


def test_generated_requests_get_no_5xx_and_only_documented_answers(tmp_path: Path) -> None:
    gateway = start_gateway(tmp_path / "data", tmp_path / "gw.log")
    try:
        run = fuzz(gateway, tmp_path, seconds=25, seed=20261201)
    finally:
        gateway.stop()
    report = run.stdout[-6000:]
    assert run.returncode == 0, report
    assert " passed" in report and "failures" not in report.split("SUMMARY")[-1].lower(), report
    log = gateway.log.read_text()
    assert "unhandled_error" not in log
    assert '"status": 500' not in log
