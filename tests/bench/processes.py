"""The benchmark's processes: the fake upstream, Portkey's AI gateway (the peer measured beside ours,
installed with npm into `portkey/`) and the gateway (uvicorn workers, its OpenAI-compatible adapter
pointed at the fake), each started on a free port, waited for and stopped, with their RSS."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.bench.data import KEY, ORG, portkey_headers
from tests.services import free_port


class Proc:
    def __init__(self, args: list[str], env: dict[str, str], log: Path, cwd: Path | None = None) -> None:
        with log.open("wb") as out:
            self.p = subprocess.Popen(
                args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
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


PORTKEY_DIR = Path(__file__).parent / "portkey"
PORTKEY_VERSION = "1.15.2"  # as pinned in portkey/package.json
_PORTKEY_START = PORTKEY_DIR / "node_modules/@portkey-ai/gateway/build/start-server.js"


def install_portkey(*, install: bool) -> str | None:
    """Why Portkey cannot be run, or None once it can: `npm ci` from the committed lock file when
    node_modules is missing and `install` is set (--smoke runs it only when already installed)."""
    if shutil.which("node") is None:
        return "node is missing"
    if _PORTKEY_START.exists():
        return None
    if not install:
        return f"not installed in {PORTKEY_DIR} (`npm ci` there; --smoke does not install it)"
    if shutil.which("npm") is None:
        return "npm is missing"
    run = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"], cwd=PORTKEY_DIR, capture_output=True, text=True
    )
    if run.returncode != 0 or not _PORTKEY_START.exists():
        # npm's first lines say what failed (its code, then the message); the rest is usage or a log.
        said = [
            x.removeprefix("npm error").strip() for x in run.stderr.splitlines() if x.startswith("npm error")
        ]
        return f"`npm ci` in {PORTKEY_DIR} failed ({run.returncode}): {'; '.join([x for x in said if x][:2])}"
    return None


@contextmanager
def portkey(work: Path, upstream_url: str) -> Iterator[tuple[str, dict[str, str], Proc]]:
    """Portkey's gateway in one Node process (as its `start:node` runs it), headless (no console UI),
    with the headers that route a request to the upstream: it is stateless and has no config of its
    own here, each request names its provider and host. It has no /health; GET / answers once up."""
    port = free_port()
    proc = Proc(
        ["node", str(_PORTKEY_START.relative_to(PORTKEY_DIR)), f"--port={port}", "--headless"],
        base_env() | {"NODE_ENV": "production"},
        work / "portkey.log",
        cwd=PORTKEY_DIR,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        proc.wait_http(url + "/")
        yield url, portkey_headers(upstream_url), proc
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
