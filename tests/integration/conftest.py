"""Fixtures shared by the integration tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.services import ThreadedMongo


@pytest.fixture(scope="module")
def mongo_for_processes() -> Iterator[str]:
    """A MongoDB URI that other processes reach (the CLI, a gateway process): the real server of
    GATEWAY_TEST_MONGODB_URI, else mongoeco on a thread of its own."""
    real = os.environ.get("GATEWAY_TEST_MONGODB_URI")
    if real:
        yield real
        return
    server = ThreadedMongo()
    try:
        yield server.start()
    finally:
        server.stop()
