"""The gateway as its users run it (`python -m gateway`) in a process of its own, for the tests that
need real sockets, several workers or signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import KEY_A, ORG_A
from tests.services import free_port


class GatewayProcess:
    def __init__(self, data_dir: Path, log: Path, extra: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        # Nothing of the caller's gateway settings (nor a metrics directory another run would share).
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("GATEWAY_") and k != "PROMETHEUS_MULTIPROC_DIR"
        }
        env.update(
            GATEWAY_PORT=str(self.port), GATEWAY_DATA_DIR=str(data_dir), GATEWAY_API_KEYS=f"{KEY_A}={ORG_A}"
        )
        env.update(extra)  # a test's own settings win, its keys included
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gateway"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("gateway did not become ready")

    def signal(self, signum: int) -> None:
        """To the whole process group: the supervisor and its workers, as a service manager does."""
        os.killpg(self.proc.pid, signum)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.proc.wait(10)


def start_gateway(data_dir: Path, log: Path, extra: dict[str, str] | None = None) -> GatewayProcess:
    gateway = GatewayProcess(data_dir, log, extra or {})
    try:
        gateway.wait_ready()
    except BaseException:
        gateway.stop()
        raise
    return gateway


def workers_of(gw: GatewayProcess) -> list[int]:
    """The supervisor's worker processes (not its multiprocessing resource tracker)."""
    out = subprocess.run(["pgrep", "-P", str(gw.proc.pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split() if b"spawn_main" in _cmdline(int(p))]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):  # gone meanwhile (ESRCH: while it was exiting)
        return b""
