"""Log lines of several worker processes on one pipe never interleave: each line is one write."""

from __future__ import annotations

import json
import os
import subprocess
import sys

WRITER = """
import sys
import structlog
from gateway.logs import configure_logging

configure_logging("info")
log = structlog.get_logger("gateway.test")
name = sys.argv[1]
for i in range(3000):
    log.info("request", worker=name, n=i, padding="x" * (i % 700))
"""


def test_lines_of_concurrent_processes_sharing_stdout_stay_whole() -> None:
    # Four writers on one pipe, as uvicorn's workers share the supervisor's stdout.
    read, write = os.pipe()
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, f"w{i}"], stdout=write, stderr=subprocess.PIPE)
        for i in range(4)
    ]
    os.close(write)
    with open(read, "rb") as out:
        raw = out.read()
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()
    lines = raw.decode().splitlines()
    assert len(lines) == 4 * 3000
    seen: dict[str, list[int]] = {}
    for line in lines:
        entry = json.loads(line)  # a glued or split line is not one JSON object
        seen.setdefault(entry["worker"], []).append(entry["n"])
    assert {w: sorted(ns) for w, ns in seen.items()} == {f"w{i}": list(range(3000)) for i in range(4)}
