"""The benchmark: `make bench` (or `python -m tests.bench [--smoke] [--soak] [--soak-only] [--fuzz]`).

Prints one table.

Everything runs on this machine: a fake OpenAI-compatible upstream with a fixed latency, the
gateway (uvicorn workers, its OpenAI adapter pointed at the fake), Portkey's AI gateway as a peer
on the same fake (installed with npm into tests/bench/portkey; its rows are skipped with a printed
line when node or npm is missing, or under --smoke when it is not installed yet), and the load
generators (`hey` for paced load, `wrk` for throughput, a small asyncio client for time to first
delta).

The pieces: `processes` (the fake upstream of `upstream`, Portkey and the gateway), `data` (what
is sent), `load` (the generators), `scenarios` (what is measured; `context_rows`: memory and
summaries) and `table` (what is printed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from tests.bench.load import Result
from tests.bench.processes import gateway, upstream
from tests.bench.scenarios import run_mongo, run_sqlite, soak
from tests.bench.table import print_table
from tests.fuzz import fuzz
from tests.gateway_process import start_gateway


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m tests.bench")
    ap.add_argument("--smoke", action="store_true", help="a few seconds in all, for CI")
    ap.add_argument("--soak", action="store_true", help="also RSS after 10,000 and 100,000 requests")
    ap.add_argument("--soak-only", action="store_true", help="only the RSS soak")
    ap.add_argument("--latency-ms", type=float, default=float(os.environ.get("GATEWAY_BENCH_LATENCY_MS", 20)))
    ap.add_argument("--workers", type=int, default=int(os.environ.get("GATEWAY_BENCH_WORKERS", 2)))
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument(
        "--fuzz", action="store_true", help="instead: a long Schemathesis run (--fuzz-seconds) over the API"
    )
    ap.add_argument("--fuzz-seconds", type=float, default=600)
    args = ap.parse_args()
    if args.fuzz:
        sys.exit(run_fuzz(args.fuzz_seconds))
    for tool in ("wrk", "hey"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install wrk hey (make bench does)")
    seconds = 1.0 if args.smoke else args.seconds
    paced_seconds = 2.0 if args.smoke else 15.0
    lengths = (10, 100) if args.smoke else (10, 1000, 10000)
    results: list[Result] = []
    work = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    try:
        with upstream(args.latency_ms, work) as up:
            if args.soak_only:
                with gateway(work, up, workers=args.workers, data=work / "soak") as (gw, proc):
                    results += soak(gw, proc, work)
            else:
                results += run_sqlite(up, work, args, seconds, paced_seconds, lengths)
            if os.environ.get("GATEWAY_BENCH_MONGODB_URI") and not args.smoke:
                results += run_mongo(up, work, args, seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(results, args)
    if any(r.errors for r in results):
        sys.exit(1)


def run_fuzz(seconds: float) -> int:
    """Schemathesis for `seconds` with a random seed (printed, to reproduce a failure)."""
    work = Path(tempfile.mkdtemp(prefix="gw-fuzz-"))
    gw = start_gateway(work / "data", work / "gw.log")
    try:
        run = fuzz(gw, work, seconds=seconds, seed=None)
    finally:
        gw.stop()
    print(run.stdout[-20000:])
    shutil.rmtree(work, ignore_errors=True)
    return run.returncode


if __name__ == "__main__":
    main()
