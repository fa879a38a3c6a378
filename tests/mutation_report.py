"""`make mutate`'s summary: the mutation score of each core module mutmut ran, and what survived.

Reads `mutmut results --all true` (one `name: status` line per mutant). A mutant not run (status
`not checked`, when `make mutate` was given a subset) counts nowhere.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict

KILLED = {"killed", "timeout", "suspicious", "segfault"}
LIVE = {"survived", "no tests"}


def module_of(name: str) -> str:
    # gateway.core.budget.xǁBudgetǁtake__mutmut_3 -> gateway.core.budget
    return ".".join(part for part in name.split(".") if not part.startswith("x"))


def main() -> int:
    command = [sys.executable, "-m", "mutmut", "results", "--all", "true"]
    out = subprocess.run(command, capture_output=True, text=True, check=False).stdout
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    alive: list[tuple[str, str]] = []
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if not sep:
            continue
        counts[module_of(name)][status] += 1
        if status in LIVE:
            alive.append((name, status))
    total_killed = total_scored = 0
    print(f"{'module':<28} {'killed':>7} {'alive':>6} {'score':>7}")
    for module in sorted(counts):
        c = counts[module]
        killed = sum(c[s] for s in KILLED)
        scored = killed + sum(c[s] for s in LIVE)
        if not scored:
            continue
        total_killed, total_scored = total_killed + killed, total_scored + scored
        print(f"{module:<28} {killed:>7} {scored - killed:>6} {killed / scored:>7.1%}")
    if total_scored:
        alive_n, score = total_scored - total_killed, total_killed / total_scored
        print(f"{'all':<28} {total_killed:>7} {alive_n:>6} {score:>7.1%}")
    for name, status in alive:
        print(f"  {status}: {name}  (mutmut show {name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
