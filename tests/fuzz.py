"""Schemathesis against the running gateway's own OpenAPI document: every route of every door,
generated valid and invalid requests, every check (no 5xx, statuses, content types, headers and
bodies as documented, invalid data refused, auth enforced).

One check is left out: `positive_data_acceptance`. It expects every request the schema allows to be
accepted, but some rules cannot be written in a schema and are refused by design with a 4xx: an
`after` cursor that names no item of the list (422), `previousResponseId` with `thread_id`
(400 `CONFLICTING_PARAMETERS`), an unknown model (404).

Used by the suite (a short, seeded run) and by `make bench BENCH_ARGS=--fuzz` (a long one).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import KEY_A
from tests.gateway_process import GatewayProcess

EXCLUDED = "positive_data_acceptance"


def fuzz(
    gateway: GatewayProcess, work: Path, *, seconds: float, seed: int | None
) -> subprocess.CompletedProcess[str]:
    """Run Schemathesis for up to `seconds` against `gateway`; its exit status and output."""
    binary = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    args = [
        binary,
        "run",
        f"{gateway.url}/schema/openapi.json",
        "--header",
        f"X-API-Key: {KEY_A}",
        "--checks",
        "all",
        "--exclude-checks",
        EXCLUDED,
        "--max-time",
        str(int(seconds)),
        "--workers",
        "2",
        "--request-timeout",
        "10",
        "--no-color",
        "--generation-database",
        "none",
    ]
    if seed is not None:
        args += ["--seed", str(seed)]
    return subprocess.run(args, cwd=work, capture_output=True, text=True, timeout=seconds + 120, check=False)
