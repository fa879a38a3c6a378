"""What the gateway says when it starts (gateway.serve): one line with its address, store, cache,
providers and number of keys, a loud warning without keys; every bad setting one line and exit
code 2; a busy port one line, not a traceback. Each through `python -m gateway`."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from gateway.serve import startup_line
from gateway.settings import load_settings
from tests.services import free_port


def _run_gateway(env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return subprocess.run(
        [sys.executable, "-m", "gateway"],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_every_bad_setting_is_one_line_and_the_exit_code_is_2() -> None:
    run = _run_gateway(
        {
            "GATEWAY_LOG_LEVEL": "verbose",
            "GATEWAY_PORT": "x",
            "GATEWAY_WORKERS": "0",
            "GATEWAY_API_KEYS": "secret_without_org",
            "GATEWAY_TURN_WAIT_S": "-1",
            "GATEWAY_EMBEDDING_PRECISION": "fp16",
        }
    )
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert lines == [
        "gateway: setting error: GATEWAY_PORT: expected a whole number, got 'x'",
        "gateway: setting error: GATEWAY_API_KEYS: every item must be `key=organization_id`",
        "gateway: setting error: GATEWAY_WORKERS must be positive",
        "gateway: setting error: GATEWAY_EMBEDDING_PRECISION must be auto, fp32 or int8",
        "gateway: setting error: GATEWAY_TURN_WAIT_S must not be negative",
        "gateway: setting error: GATEWAY_LOG_LEVEL must be one of debug, info, warning, error, got 'verbose'",
    ]
    assert "secret_without_org" not in run.stderr and "Traceback" not in run.stderr


def test_the_startup_line_and_the_warning_without_keys() -> None:
    with_keys = load_settings({"GATEWAY_API_KEYS": "k1=o1,k2=o2", "GATEWAY_PORT": "8123"})
    line = startup_line(with_keys)
    assert line.startswith("gateway: listening on http://127.0.0.1:8123 with 1 worker; store sqlite ")
    assert line.endswith("; cache in-process; providers echo; 2 API keys")
    assert "k1" not in line and "o1" not in line
    two = load_settings({"GATEWAY_WORKERS": "2", "GATEWAY_REDIS_URL": "redis://h:1/0"})
    assert "with 2 workers" in startup_line(two) and "cache redis" in startup_line(two)


def test_a_busy_port_is_one_line_not_a_traceback() -> None:
    with contextlib.closing(socket.socket()) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = _run_gateway({"GATEWAY_PORT": str(port)})
    assert run.returncode == 3
    assert run.stderr.strip() == f"gateway: cannot listen on 127.0.0.1:{port}: Address already in use"


def test_without_keys_the_gateway_says_so_when_it_starts(tmp_path: Path) -> None:
    port = free_port()
    env = {"GATEWAY_PORT": str(port), "GATEWAY_DATA_DIR": str(tmp_path)}
    base = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway"], env={**base, **env}, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        first, second = proc.stderr.readline(), proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(20)
        if proc.stderr is not None:
            proc.stderr.close()
    assert first.startswith(f"gateway: listening on http://127.0.0.1:{port} ") and "0 API keys" in first
    assert second.startswith("gateway: WARNING: no API key is configured")


def test_a_worker_that_dies_is_said_and_replaced(tmp_path: Path) -> None:
    port = free_port()
    env = {"GATEWAY_PORT": str(port), "GATEWAY_DATA_DIR": str(tmp_path), "GATEWAY_WORKERS": "2"}
    base = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway"], env={**base, **env}, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        assert "with 2 workers" in proc.stderr.readline()
        workers: list[int] = []
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            workers = _children(proc.pid)
        victim = workers[0]
        os.kill(victim, signal.SIGKILL)
        line = ""
        while "stopped" not in line:
            line = proc.stderr.readline()
            assert line, "the gateway ended without saying anything"
        assert line.startswith(f"gateway: worker [{victim}] stopped (signal 9); worker [")
    finally:
        proc.terminate()
        proc.wait(30)
        if proc.stderr is not None:
            proc.stderr.close()


def _children(pid: int) -> list[int]:
    """The gateway's worker processes: its children that run the server (multiprocessing's own
    helpers, if any, are not among them by their command line)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"multiprocessing.spawn" in cmdline:
            found.append(int(entry.name))
    return sorted(found)
