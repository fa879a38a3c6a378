"""The benchmark's scenarios: on SQLite (direct upstream baselines, Portkey's gateway on both load
shapes, new and long threads, `previousResponseId`, echo, non-streaming and streaming, memory and
summaries), the RSS soak, and MongoDB."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import httpx

from tests.bench.context_rows import memory_rows, summary_row
from tests.bench.data import (
    MODEL,
    backboard_turn,
    chat_turn,
    openai_turn,
    responses,
    seed,
    seed_backboard,
    seed_items,
    turn,
)
from tests.bench.load import Result, first_delta, merged, paced, wrk
from tests.bench.processes import PORTKEY_VERSION, Proc, gateway, install_portkey, portkey


def run_sqlite(
    up: str,
    work: Path,
    args: argparse.Namespace,
    seconds: float,
    paced_seconds: float,
    lengths: tuple[int, ...],
) -> list[Result]:
    out: list[Result] = []
    direct_body = chat_turn()
    out.append(
        paced(
            "direct upstream, paced 200/s",
            up,
            "/v1/chat/completions",
            direct_body,
            seconds=paced_seconds,
            rate=200,
            headers={},
        )
    )
    out.append(
        wrk(
            "direct upstream, 64 conns",
            up,
            "/v1/chat/completions",
            [direct_body],
            seconds=seconds,
            connections=64,
            work=work,
        )
    )
    out += portkey_rows(up, work, args, seconds, paced_seconds)
    first = len(out)
    # Summaries off here: the long-thread rows measure turns alone, as they always did; the
    # "long thread with summaries" row (`context`) measures them with summaries on.
    quiet = {"GATEWAY_SUMMARY_AFTER_TOKENS": "0"}
    with gateway(work, up, workers=args.workers, data=work / "sqlite", extra=quiet) as (gw, proc):
        # Warm up (imports, first connections), then measure.
        seed(gw, MODEL, 4, 2)
        out.append(
            paced(
                "gateway openai, new thread per turn, paced 200/s",
                gw,
                "/v1/model/response",
                turn(MODEL),
                seconds=paced_seconds,
                rate=200,
            )
        )
        out[-1].baseline = "direct upstream, paced 200/s"
        # One thread per connection: turns on one thread are served one after the other (SPEC
        # linearizable turns), so a pool smaller than the connections would measure that queue.
        # Long threads are written as items (no model call), the thread of 10 through turns.
        # The long threads first, then the three pools of 10, so that those three start alike.
        ten = lengths[0]
        pools = {n: seed_items(gw, 64, n) for n in lengths[1:]}
        pools[ten] = seed(gw, MODEL, 64, ten)
        # The thread of 10 and the other doors on the same kind of turn, right after one another
        # and before the long threads' rows, in interleaved halves (A B C A B C): what the goal
        # compares (each door's rate over /v1/model/response's) is then the doors' own cost, not
        # the machine's drift from one 10-second row to the next (measured: the same row run
        # twice a minute apart moved by up to 15%). The OpenAI door's turns are on conversations
        # of 10, the Backboard door's on threads of its own (UUIDs), each seeded here.
        out += interleaved(
            gw,
            (
                (
                    f"gateway openai, thread of {ten}, 64 conns",
                    "/v1/model/response",
                    [turn(MODEL, thread=t) for t in pools[ten]],
                ),
                (
                    "gateway openai, /v1/responses, conversation of 10, 64 conns",
                    "/v1/responses",
                    [openai_turn(MODEL, conversation=t) for t in seed(gw, MODEL, 64, 10)],
                ),
                (
                    "gateway openai, Backboard /api, thread of 10, 64 conns",
                    "/api/threads/messages",
                    [backboard_turn(MODEL, thread_id=t) for t in seed_backboard(gw, MODEL, 64, 10)],
                ),
            ),
            seconds=seconds,
            halves=1 if args.smoke else 2,
            work=work,
        )
        for n in lengths[1:]:
            out.append(
                wrk(
                    f"gateway openai, thread of {n}, 64 conns",
                    gw,
                    "/v1/model/response",
                    [turn(MODEL, thread=t) for t in pools[n]],
                    seconds=seconds,
                    connections=64,
                    work=work,
                )
            )
            out[-1].baseline = "direct upstream, 64 conns"
        chain = responses(gw, MODEL, 64)
        out.append(
            wrk(
                "gateway openai, previousResponseId, 64 conns",
                gw,
                "/v1/model/response",
                [turn(MODEL, previousResponseId=r) for r in chain],
                seconds=seconds,
                connections=64,
                work=work,
            )
        )
        out[-1].baseline = "direct upstream, 64 conns"
        echo_threads = seed(gw, "echo", 64, 10)
        out.append(
            wrk(
                "gateway echo, thread of 10, 64 conns",
                gw,
                "/v1/model/response",
                [turn("echo", thread=t) for t in echo_threads],
                seconds=seconds,
                connections=64,
                work=work,
            )
        )
        out.append(
            paced(
                "gateway openai, non-streaming, paced 100/s",
                gw,
                "/v1/model/response",
                turn(MODEL),
                seconds=paced_seconds,
                rate=100,
            )
        )
        out.append(
            first_delta(
                "gateway openai, streaming, paced 100/s",
                gw,
                turn(MODEL, stream=True),
                seconds=paced_seconds,
                rate=100,
            )
        )
        for r in out[first:]:
            r.rss_mb = proc.rss_mb()
        if args.soak:
            out += soak(gw, proc, work)
    for row in context(up, work, args, seconds, paced_seconds):
        at = next((i for i, r in enumerate(out) if r.name == row.versus), None)
        out.insert(len(out) if at is None else at + 1, row)
    return out


def interleaved(
    gw: str, rows: tuple[tuple[str, str, list[bytes]], ...], *, seconds: float, halves: int, work: Path
) -> list[Result]:
    """Each row (name, path, bodies) measured with wrk for `seconds` in all, as `halves` parts run
    in turn with the other rows' (A B C A B C), and merged into one row per name (`merged`)."""
    parts: dict[str, list[Result]] = {name: [] for name, _, _ in rows}
    for half in range(halves):
        for name, path, bodies in rows:
            label = f"{name} (part {half + 1} of {halves})" if halves > 1 else name
            parts[name].append(
                wrk(label, gw, path, bodies, seconds=seconds / halves, connections=64, work=work)
            )
    out = [merged(name, parts[name]) for name, _, _ in rows]
    for row in out:
        row.baseline = "direct upstream, 64 conns"
    return out


def portkey_rows(
    up: str, work: Path, args: argparse.Namespace, seconds: float, paced_seconds: float
) -> list[Result]:
    """Portkey's gateway, the peer, on the direct rows' upstream, body and load shapes (the table
    prints the gateway's figures over its own), stopped before the gateway starts so that the two
    never share the cores. Skipped with one printed line when it cannot be installed."""
    name = f"portkey {PORTKEY_VERSION}"
    why = install_portkey(install=not args.smoke)
    if why:
        print(f"{name}: rows skipped, {why}", flush=True)
        return []
    body = chat_turn()
    with portkey(work, up) as (pk, headers, proc):
        # One answer of the upstream through it (an error would be relayed as an answer), then two
        # seconds at 64 connections, not measured: Node's JIT takes seconds to reach its pace (its
        # req/s climbed by 60% over its first 8 s here), the gateway's rows come after its seeding.
        check = httpx.post(
            pk + "/v1/chat/completions",
            content=body,
            headers=headers | {"Content-Type": "application/json"},
            timeout=10,
        )
        if check.status_code != 200 or b'"choices"' not in check.content:
            raise RuntimeError(
                f"portkey did not relay the upstream's answer: {check.status_code} {check.text}"
            )
        wrk(
            f"{name} warm-up",
            pk,
            "/v1/chat/completions",
            [body],
            seconds=2,
            connections=64,
            work=work,
            headers=headers,
        )
        out = [
            paced(
                f"{name}, paced 200/s",
                pk,
                "/v1/chat/completions",
                body,
                seconds=paced_seconds,
                rate=200,
                headers=headers,
            ),
            wrk(
                f"{name}, 64 conns",
                pk,
                "/v1/chat/completions",
                [body],
                seconds=seconds,
                connections=64,
                work=work,
                headers=headers,
            ),
        ]
        out[0].baseline, out[1].baseline = "direct upstream, paced 200/s", "direct upstream, 64 conns"
        for r in out:
            r.rss_mb = proc.rss_mb()
    return out


def context(
    up: str, work: Path, args: argparse.Namespace, seconds: float, paced_seconds: float
) -> list[Result]:
    """Memory and summaries, on a gateway of their own (see `context_rows`)."""
    data = work / "context"
    with gateway(work, up, workers=args.workers, data=data) as (gw, proc):
        rows = memory_rows(gw, data, work, seconds=seconds, paced_seconds=paced_seconds, memories=10_000)
        rows.append(summary_row(gw, data, work, seconds=seconds, length=300 if args.smoke else 1000))
        for r in rows:
            r.rss_mb = proc.rss_mb()
    return rows


def soak(gw: str, proc: Proc, work: Path) -> list[Result]:
    """RSS after 10,000 requests, then after 100,000 (no leak: within 10%)."""
    threads = seed(gw, "echo", 64, 10)
    bodies = [turn("echo", thread=t) for t in threads]
    done, out = 0, []
    for target in (10_000, 100_000):
        while done < target:
            r = wrk(
                f"soak to {target}", gw, "/v1/model/response", bodies, seconds=5, connections=64, work=work
            )
            done += r.requests
        out.append(
            Result(
                name=f"soak: echo, after {done:,} requests",
                requests=done,
                errors=r.errors,
                p50=r.p50,
                p90=r.p90,
                p99=r.p99,
                rps=r.rps,
                rss_mb=proc.rss_mb("VmRSS"),
                note="current RSS",
            )
        )
    return out


def run_mongo(up: str, work: Path, args: argparse.Namespace, seconds: float) -> list[Result]:
    uri = os.environ["GATEWAY_BENCH_MONGODB_URI"]
    extra = {"GATEWAY_MONGODB_URI": uri, "GATEWAY_MONGODB_DATABASE": f"bench_{os.urandom(4).hex()}"}
    out = []
    with gateway(work, up, workers=args.workers, data=work / "mongo", extra=extra) as (gw, proc):
        threads = seed(gw, MODEL, 64, 10)
        out.append(
            wrk(
                "gateway openai on MongoDB, thread of 10, 64 conns",
                gw,
                "/v1/model/response",
                [turn(MODEL, thread=t) for t in threads],
                seconds=seconds,
                connections=64,
                work=work,
            )
        )
        out[-1].baseline = "direct upstream, 64 conns"
        out[-1].rss_mb = proc.rss_mb()
    return out
