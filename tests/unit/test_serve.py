"""The server's sockets (gateway.serve): each worker its own SO_REUSEPORT socket, a taken port refused."""

from __future__ import annotations

import socket

import pytest

from gateway.serve import listen


def test_workers_share_a_port_through_their_own_sockets() -> None:
    first = listen("127.0.0.1", 0, reuse_port=True)
    port = first.getsockname()[1]
    try:
        second = listen("127.0.0.1", port, reuse_port=True)
        second.close()
    finally:
        first.close()


def test_a_port_held_by_another_program_is_refused_before_any_worker_starts() -> None:
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    other.listen()
    try:
        with pytest.raises(OSError):
            listen("127.0.0.1", other.getsockname()[1], reuse_port=False)
    finally:
        other.close()
