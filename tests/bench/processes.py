"""The benchmark's processes: the fake upstream and the gateway (uvicorn workers, its OpenAI-compatible
adapter pointed at the fake), each started on a free port, waited for and stopped, with their RSS."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.bench.data import KEY, ORG
from tests.services import free_port


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
