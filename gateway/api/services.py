"""What the controllers are handed: the app's long-lived parts, made once in `create_app`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.store.base import Store
from gateway.store.cache import ResponseCache
from gateway.threads import Limits
from gateway.turns import TurnService


@dataclass(frozen=True, slots=True)
class Services:
    store: Store
    cache: ResponseCache
    limits: Limits
    turns: TurnService
    # Integer microseconds since the epoch; tests pass their own to travel in time.
    clock: Callable[[], int]
