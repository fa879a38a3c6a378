"""The one table the benchmark prints, with the latency added over each scenario's baseline, the
ratios of a long thread to a short one and of RSS after the soak, what memory and summaries add
over the same turns without them, and the gateway over Portkey's on both load shapes."""

from __future__ import annotations

import argparse
import os

from tests.bench.load import Result


def print_table(results: list[Result], args: argparse.Namespace) -> None:
    by_name = {r.name: r for r in results}
    print()
    print(
        f"Benchmark: upstream latency {args.latency_ms:g} ms, gateway workers {args.workers}, "
        f"{os.cpu_count()} cores shared by the load generator, the fake upstream and the gateway"
    )
    head = (
        "scenario",
        "requests",
        "errors",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "req/s",
        "added p50",
        "added p99",
        "peak RSS MB",
    )
    rows = []
    for r in results:
        base = by_name.get(r.baseline or "")
        added50 = f"{r.p50 - base.p50:.2f}" if base else ""
        added99 = f"{r.p99 - base.p99:.2f}" if base else ""
        rss = f"{r.rss_mb:.0f}" if r.rss_mb is not None else ""
        name = r.name + (f" ({r.note})" if r.note else "")
        rows.append(
            (
                name,
                f"{r.requests:,}",
                str(r.errors),
                f"{r.p50:.2f}",
                f"{r.p90:.2f}",
                f"{r.p99:.2f}",
                f"{r.rps:,.0f}",
                added50,
                added99,
                rss,
            )
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    ten = [r for r in results if "thread of 10," in r.name and "openai" in r.name]
    big = [r for r in results if "thread of 10000," in r.name]
    if ten and big:
        print(
            "\nturn on a 10,000-message thread / on a 10-message thread (p50): "
            f"{big[0].p50 / ten[0].p50:.2f}x"
        )
    doors = [r for r in results if "/v1/responses," in r.name or "Backboard /api," in r.name]
    if ten and doors:
        print("\nthe other doors / /v1/model/response, thread of 10, req/s (goal: within 10%):")
    for r in doors:
        print(f"  {r.name}: {r.rps / ten[0].rps:.2f}x")
    versus = [(r, by_name[r.versus]) for r in results if r.versus in by_name]
    if versus:
        print(
            "\nadded by memory or summaries over the same turns without (p50, p99; "
            "memory's goal: p50 <= 10 ms):"
        )
    for r, other in versus:
        print(f"  {r.name}: {r.p50 - other.p50:+.2f} ms, {r.p99 - other.p99:+.2f} ms over {other.name}")
    versus_portkey(by_name)
    soaks = [r for r in results if r.name.startswith("soak")]
    if len(soaks) == 2 and soaks[0].rss_mb and soaks[1].rss_mb is not None:
        print(f"RSS after 100k / after 10k: {soaks[1].rss_mb / soaks[0].rss_mb:.2f}x")


def versus_portkey(by_name: dict[str, Result]) -> None:
    """Gateway / Portkey: requests/s at 64 connections (goal >= 1.2x), and the latency each adds over
    the upstream at 200 req/s open loop (goals: p50 <= Portkey's and <= 1.5 ms, p99 <= Portkey's)."""
    saturated = next(
        (r for n, r in by_name.items() if n.startswith("portkey ") and n.endswith(", 64 conns")), None
    )
    if saturated is None:
        return
    version = saturated.name.removesuffix(", 64 conns")
    names = (
        "gateway openai, thread of 10, 64 conns",
        "gateway openai, /v1/responses, conversation of 10, 64 conns",
        "gateway openai, Backboard /api, thread of 10, 64 conns",
        "gateway openai, previousResponseId, 64 conns",
    )
    rows = [by_name[n] for n in names if n in by_name]
    if rows:
        print(f"\ngateway / {version}, 64 conns, req/s (goal >= 1.2x):")
    for r in rows:
        print(f"  {r.name}: {r.rps / saturated.rps:.2f}x ({r.rps:,.0f} / {saturated.rps:,.0f})")
    gw = by_name.get("gateway openai, new thread per turn, paced 200/s")
    pk, base = by_name.get(f"{version}, paced 200/s"), by_name.get("direct upstream, paced 200/s")
    if gw and pk and base:
        print(
            f"open loop at 200/s, added over the upstream, gateway (new thread per turn) / {version}\n"
            "(goals: p50 <= portkey's and <= 1.5 ms, p99 <= portkey's):"
        )
        print(f"  p50: {gw.p50 - base.p50:+.2f} ms / {pk.p50 - base.p50:+.2f} ms")
        print(f"  p99: {gw.p99 - base.p99:+.2f} ms / {pk.p99 - base.p99:+.2f} ms")
