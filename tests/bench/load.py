"""The load generators, each returning one `Result`: `wrk` for throughput, `hey` for paced load, an
asyncio client for evenly spaced open-loop load, and one for the time to the first streamed delta."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import msgspec

from tests.bench.data import KEY


class Result(msgspec.Struct, kw_only=True):
    name: str
    requests: int
    errors: int
    p50: float
    p90: float
    p99: float
    rps: float
    rss_mb: float | None = None
    baseline: str | None = None  # the row the added latency is taken over
    versus: str | None = None  # the row of the same turns without this one's feature (shown above it)
    note: str = ""
    # wrk's latency at `QUANTILES` (ms): what `merged` pools when a row is run in parts.
    quantiles: tuple[float, ...] = ()
    seconds: float = 0.0  # how long its requests were measured


# Percentiles 0.5-99.5 by halves, then 99.6-99.9 and 99.95, 99.99: enough points that a row
# measured in parts gets its p50, p90 and p99 back from its parts' quantiles to well within one
# microsecond bucket of spread between neighbouring points.
QUANTILES = (*(i / 2 for i in range(1, 200)), 99.6, 99.7, 99.8, 99.9, 99.95, 99.99)

_WRK_LUA = """
local bodies = {BODIES}
local paths = {PATHS}
local n = #bodies
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{HEADERS}
function setup(thread) thread:set("offset", math.random(n)) end
function request()
  i = i + 1
  local k = ((i + offset) % n) + 1
  return wrk.format(nil, paths[k], nil, bodies[k])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests,
    e.connect + e.read + e.write + e.timeout + e.status, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), summary.duration))
  local q = {}
  for _, p in ipairs({QUANTILES}) do q[#q + 1] = string.format("%d", latency:percentile(p)) end
  io.write("QUANTILES " .. table.concat(q, " ") .. "\\n")
end
"""


def _headers(headers: dict[str, str] | None) -> dict[str, str]:
    """The request headers besides Content-Type: the gateway's key unless others are given (none
    for the upstream itself, Portkey's routing headers for Portkey)."""
    return {"X-API-Key": KEY} if headers is None else headers


def progress(name: str, seconds: float) -> None:
    """One line on standard error as each measurement starts (the table comes at the end)."""
    print(f"bench: {name} ({seconds:g} s)", file=sys.stderr, flush=True)


def wrk(
    name: str,
    url: str,
    path: str,
    bodies: list[bytes],
    *,
    seconds: float,
    connections: int,
    work: Path,
    headers: dict[str, str] | None = None,
    paths: list[str] | None = None,
) -> Result:
    """`bodies` spread over the connections, each to `path`, or request k to `paths[k]` with body
    k (the bodies repeated) when `paths` is given (a door whose thread is in the path)."""
    progress(name, seconds)
    if paths is None:
        paths = [path] * len(bodies)
    else:
        bodies = [bodies[k % len(bodies)] for k in range(len(paths))]
    lua_bodies = "{" + ",".join(json.dumps(b.decode()) for b in bodies) + "}"
    lua_paths = "{" + ",".join(json.dumps(p) for p in paths) + "}"
    # JSON strings of ASCII text are Lua string literals.
    lua_headers = "\n".join(
        f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in _headers(headers).items()
    )
    script = work / f"{name.replace(' ', '_').replace('/', '_')}.lua"
    script.write_text(
        _WRK_LUA.replace("{BODIES}", lua_bodies)
        .replace("{PATHS}", lua_paths)
        .replace("{HEADERS}", lua_headers)
        .replace("{QUANTILES}", "{" + ",".join(repr(q) for q in QUANTILES) + "}")
    )
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
    quantiles = next(x for x in out.splitlines() if x.startswith("QUANTILES ")).split()[1:]
    return Result(
        name=name,
        requests=requests,
        errors=errors,
        p50=p50 / 1000,
        p90=p90 / 1000,
        p99=p99 / 1000,
        rps=requests / (duration_us / 1e6),
        quantiles=tuple(int(v) / 1000 for v in quantiles),
        seconds=duration_us / 1e6,
    )


def merged(name: str, parts: list[Result]) -> Result:
    """One row of `parts` (wrk runs of the same turns at different times): their requests and
    errors summed, requests/s over their summed durations, and p50 / p90 / p99 of their pooled
    latencies: each part's quantile at percentile q stands for the share of its requests between
    the quantile below it and q (the last one for the rest up to 100)."""
    if not parts or any(len(p.quantiles) != len(QUANTILES) for p in parts):
        raise ValueError("merged takes wrk results, each with its quantiles")
    shares = [(q - below) / 100 for q, below in zip(QUANTILES, (0.0, *QUANTILES[:-1]), strict=True)]
    shares[-1] += (100 - QUANTILES[-1]) / 100
    points = sorted(
        (value, p.requests * share) for p in parts for value, share in zip(p.quantiles, shares, strict=True)
    )
    total = sum(weight for _, weight in points)

    def at(percent: float) -> float:
        seen = 0.0
        for value, weight in points:
            seen += weight
            if seen >= total * percent / 100 * (1 - 1e-12):
                return value
        return points[-1][0]

    seconds = sum(p.seconds for p in parts)
    requests = sum(p.requests for p in parts)
    return Result(
        name=name,
        requests=requests,
        errors=sum(p.errors for p in parts),
        p50=at(50),
        p90=at(90),
        p99=at(99),
        rps=requests / seconds,
        quantiles=(),
        seconds=seconds,
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
    url: str, path: str, body: bytes, seconds: float, rate: float, headers: dict[str, str]
) -> tuple[list[float], int]:
    """Open-loop load: one request every 1/rate s, each on an idle keep-alive connection (or a new
    one), whatever the answers' timing. Unlike hey's per-worker ticks, arrivals are evenly spaced."""
    host, port = url.removeprefix("http://").split(":")
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Type: application/json\r\n"
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
    name: str,
    url: str,
    path: str,
    body: bytes,
    *,
    seconds: float,
    rate: float,
    headers: dict[str, str] | None = None,
) -> Result:
    progress(name, seconds)
    times, errors = asyncio.run(_paced(url, path, body, seconds, rate, _headers(headers)))
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
    progress(name, seconds)
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
