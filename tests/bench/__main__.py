"""The benchmark: `make bench` (or `python -m tests.bench [--smoke] [--soak] [--soak-only]`).

Prints one table.

Everything runs on this machine: a fake OpenAI-compatible upstream with a fixed latency, the
gateway (uvicorn workers, its OpenAI adapter pointed at the fake), and the load generators
(`hey` for paced load, `wrk` for throughput, a small asyncio client for time to first delta).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import msgspec

from tests.services import free_port

KEY = "bench_key_0123456789"
ORG = "org_bench"
MODEL = "bench/bench-model"  # the config file's endpoint `bench`, an OpenAI-compatible server
TEXT = "Please summarise the last quarter's figures for the northern region in two sentences."  # ~86 chars
HERE = Path(__file__).parent


# -- processes ------------------------------------------------------------------------------------


class Proc:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        with log.open("wb") as out:
            self.p = subprocess.Popen(
                args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.log = log

    def wait_http(self, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                raise RuntimeError(f"{self.log.name} exited: {self.log.read_text()[-2000:]}")
            try:
                httpx.get(url, timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"{url} did not answer")

    def pids(self) -> list[int]:
        """This process and its children (uvicorn's workers)."""
        found = [self.p.pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.p.pid:
                    found.append(int(entry.name))
        return found

    def rss_mb(self, field: str = "VmHWM") -> float:
        """Summed over the processes: VmHWM is each one's peak resident set, VmRSS its current one."""
        total = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith(field + ":"):
                        total += int(line.split()[1])
            except OSError:
                continue
        return total / 1024

    def stop(self) -> None:
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "OPENAI_", "ANTHROPIC_"))}


@contextmanager
def upstream(latency_ms: float, work: Path) -> Iterator[str]:
    port = free_port()
    proc = Proc(
        [sys.executable, "-m", "tests.bench.upstream", str(port), str(latency_ms)],
        base_env(),
        work / "upstream.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        proc.wait_http(url + "/health")
        yield url
    finally:
        proc.stop()


@contextmanager
def gateway(
    work: Path,
    upstream_url: str,
    *,
    workers: int,
    data: Path,
    extra: dict[str, str] | None = None,
    context_tokens: int = 4096,
) -> Iterator[tuple[str, Proc]]:
    port = free_port()
    config = work / "providers.toml"
    config.write_text(
        f'[endpoints.bench]\nbase_url = "{upstream_url}/v1"\napi_key_env = "BENCH_UPSTREAM_KEY"\n'
        f"context_tokens = {context_tokens}\n"
    )
    env = (
        base_env()
        | {
            "GATEWAY_PORT": str(port),
            "GATEWAY_WORKERS": str(workers),
            "GATEWAY_DATA_DIR": str(data),
            "GATEWAY_API_KEYS": f"{KEY}={ORG}",
            "GATEWAY_CONFIG_FILE": str(config),
            "BENCH_UPSTREAM_KEY": "sk-bench",
            "GATEWAY_MAX_MESSAGES_PER_THREAD": "10000000",
            "GATEWAY_LOG_LEVEL": "warning",
            "GATEWAY_ECHO_CONTEXT_TOKENS": str(context_tokens),
        }
        | (extra or {})
    )
    proc = Proc([sys.executable, "-m", "gateway"], env, work / f"gateway-{port}.log")
    url = f"http://127.0.0.1:{port}"
    try:
        proc.wait_http(url + "/health")
        yield url, proc
    finally:
        proc.stop()


# -- data -----------------------------------------------------------------------------------------


def turn(model: str, **fields: object) -> bytes:
    return msgspec.json.encode({"model": model, "inputs": [{"role": "user", "content": TEXT}], **fields})


def seed(url: str, model: str, threads: int, length: int) -> list[str]:
    """Threads of `length` messages, made through the API (two messages a turn)."""
    ids = [f"bench_{length}_{i}_{os.urandom(4).hex()}" for i in range(threads)]

    async def fill() -> None:
        async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": KEY}, timeout=60) as http:

            async def one(tid: str) -> None:
                for _ in range(length // 2):
                    r = await http.post("/v1/model/response", content=turn(model, thread=tid))
                    r.raise_for_status()

            await asyncio.gather(*(one(t) for t in ids))

    asyncio.run(fill())
    return ids


def responses(url: str, model: str, count: int) -> list[str]:
    with httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=60) as http:
        return [
            http.post("/v1/model/response", content=turn(model, store=False)).json()["id"]
            for _ in range(count)
        ]


# -- load generators ------------------------------------------------------------------------------


class Result(msgspec.Struct, kw_only=True):
    name: str
    requests: int
    errors: int
    p50: float
    p90: float
    p99: float
    rps: float
    rss_mb: float | None = None
    baseline: str | None = None
    note: str = ""


_WRK_LUA = """
local bodies = {BODIES}
local n = #bodies
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "{KEY}"
function setup(thread) thread:set("offset", math.random(n)) end
function request()
  i = i + 1
  return wrk.format(nil, "{PATH}", nil, bodies[((i + offset) % n) + 1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests,
    e.connect + e.read + e.write + e.timeout + e.status, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), summary.duration))
end
"""


def wrk(
    name: str, url: str, path: str, bodies: list[bytes], *, seconds: float, connections: int, work: Path
) -> Result:
    lua_bodies = "{" + ",".join(json.dumps(b.decode()) for b in bodies) + "}"
    script = work / f"{name.replace(' ', '_').replace('/', '_')}.lua"
    script.write_text(_WRK_LUA.replace("{BODIES}", lua_bodies).replace("{KEY}", KEY).replace("{PATH}", path))
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    requests, errors, p50, p90, p99, duration_us = (int(v) for v in line.split()[1:])
    return Result(
        name=name,
        requests=requests,
        errors=errors,
        p50=p50 / 1000,
        p90=p90 / 1000,
        p99=p99 / 1000,
        rps=requests / (duration_us / 1e6),
    )


def hey(
    name: str, url: str, body: bytes, *, seconds: float, rate: int, work: Path, key: bool = True
) -> Result:
    """Open-loop-ish paced load: `rate` requests per second from 20 workers (hey -q)."""
    workers = 20
    body_file = work / "hey-body.json"
    body_file.write_bytes(body)
    args = [
        "hey",
        "-z",
        f"{seconds}s",
        "-c",
        str(workers),
        "-q",
        str(max(rate // workers, 1)),
        "-m",
        "POST",
        "-T",
        "application/json",
        "-D",
        str(body_file),
        "-o",
        "csv",
    ]
    if key:
        args += ["-H", f"X-API-Key: {KEY}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rows = [r.split(",") for r in out.splitlines()[1:] if r and r[0].isdigit()]
    times = sorted(float(r[0]) * 1000 for r in rows)
    errors = sum(1 for r in rows if r[6] != "200")
    return Result(
        name=name,
        requests=len(times),
        errors=errors,
        p50=_pct(times, 50),
        p90=_pct(times, 90),
        p99=_pct(times, 99),
        rps=len(times) / seconds,
    )


def _pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.used = time.perf_counter()

    async def exchange(self, request: bytes) -> int:
        """One request on a keep-alive connection; the status code."""
        self.writer.write(request)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status


async def _paced(
    url: str, path: str, body: bytes, seconds: float, rate: float, key: bool
) -> tuple[list[float], int]:
    """Open-loop load: one request every 1/rate s, each on an idle keep-alive connection (or a new
    one), whatever the answers' timing. Unlike hey's per-worker ticks, arrivals are evenly spaced."""
    host, port = url.removeprefix("http://").split(":")
    auth = f"X-API-Key: {KEY}\r\n" if key else ""
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    idle: list[_Conn] = []
    times: list[float] = []
    errors = 0

    async def one(scheduled: float) -> None:
        nonlocal errors
        # A connection left idle for seconds may have been closed by the server's keep-alive
        # timeout: such connections are dropped, not reused (that would be the generator's error).
        while idle and time.perf_counter() - idle[-1].used > 2:
            idle.pop().writer.close()
        conn = idle.pop() if idle else _Conn(*await asyncio.open_connection(host, int(port)))
        try:
            status = await conn.exchange(request)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            conn.writer.close()
            return
        # Measured from the scheduled send time, so a slow generator cannot hide latency.
        times.append((time.perf_counter() - scheduled) * 1000)
        if status != 200:
            errors += 1
        conn.used = time.perf_counter()
        idle.append(conn)

    tasks = []
    start = time.perf_counter()
    n = int(seconds * rate)
    for i in range(n):
        at = start + i / rate
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(at)))
    await asyncio.gather(*tasks, return_exceptions=True)
    for conn in idle:
        conn.writer.close()
    return sorted(times), errors


def paced(
    name: str, url: str, path: str, body: bytes, *, seconds: float, rate: float, key: bool = True
) -> Result:
    times, errors = asyncio.run(_paced(url, path, body, seconds, rate, key))
    return Result(
        name=name,
        requests=len(times) + errors,
        errors=errors,
        p50=_pct(times, 50),
        p90=_pct(times, 90),
        p99=_pct(times, 99),
        rps=(len(times) + errors) / seconds,
        note="open loop",
    )


async def _first_delta(
    host: str, port: int, body: bytes, seconds: float, rate: float
) -> tuple[list[float], int]:
    """Streaming requests paced at `rate`: time from sending to the first text delta."""
    request = (
        f"POST /v1/model/response HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    times: list[float] = []
    errors = 0
    end = time.monotonic() + seconds

    async def one() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            started = time.perf_counter()
            writer.write(request)
            await writer.drain()
            data = b""
            got = None
            while not data.endswith(b"0\r\n\r\n"):
                chunk = await reader.read(65536)
                if not chunk:
                    break
                data += chunk
                if got is None and b"response.output_text.delta" in data:
                    got = time.perf_counter() - started
            if got is None or b"response.completed" not in data:
                errors += 1
            else:
                times.append(got * 1000)
        finally:
            writer.close()

    tasks = []
    while time.monotonic() < end:
        tasks.append(asyncio.create_task(one()))
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*tasks, return_exceptions=True)
    return sorted(times), errors


def first_delta(name: str, url: str, body: bytes, *, seconds: float, rate: float) -> Result:
    host, port = url.removeprefix("http://").split(":")
    times, errors = asyncio.run(_first_delta(host, int(port), body, seconds, rate))
    return Result(
        name=name,
        requests=len(times) + errors,
        errors=errors,
        p50=_pct(times, 50),
        p90=_pct(times, 90),
        p99=_pct(times, 99),
        rps=(len(times) + errors) / seconds,
        note="time to first delta",
    )


# -- the run --------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m tests.bench")
    ap.add_argument("--smoke", action="store_true", help="a few seconds in all, for CI")
    ap.add_argument("--soak", action="store_true", help="also RSS after 10,000 and 100,000 requests")
    ap.add_argument("--soak-only", action="store_true", help="only the RSS soak")
    ap.add_argument("--latency-ms", type=float, default=float(os.environ.get("GATEWAY_BENCH_LATENCY_MS", 20)))
    ap.add_argument("--workers", type=int, default=int(os.environ.get("GATEWAY_BENCH_WORKERS", 2)))
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
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


def run_sqlite(
    up: str,
    work: Path,
    args: argparse.Namespace,
    seconds: float,
    paced_seconds: float,
    lengths: tuple[int, ...],
) -> list[Result]:
    out: list[Result] = []
    direct_body = msgspec.json.encode(
        {"model": "bench-model", "messages": [{"role": "user", "content": TEXT}]}
    )
    out.append(
        paced(
            "direct upstream, paced 200/s",
            up,
            "/v1/chat/completions",
            direct_body,
            seconds=paced_seconds,
            rate=200,
            key=False,
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
    with gateway(work, up, workers=args.workers, data=work / "sqlite") as (gw, proc):
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
        pools = {n: seed(gw, MODEL, 64 if n <= 10 else (16 if n <= 1000 else 4), n) for n in lengths}
        for n in lengths:
            bodies = [turn(MODEL, thread=t) for t in pools[n]]
            out.append(
                wrk(
                    f"gateway openai, thread of {n}, 64 conns",
                    gw,
                    "/v1/model/response",
                    bodies,
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
        for r in out[2:]:
            r.rss_mb = proc.rss_mb()
        if args.soak:
            out += soak(gw, proc, work)
    return out


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
    soaks = [r for r in results if r.name.startswith("soak")]
    if len(soaks) == 2 and soaks[0].rss_mb:
        print(f"RSS after 100k / after 10k: {soaks[1].rss_mb / soaks[0].rss_mb:.2f}x")


if __name__ == "__main__":
    main()
