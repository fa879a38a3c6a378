"""What the doors are handed: the app's long-lived parts, made once in `create_app`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.core.assistants import AssistantService
from gateway.core.items import ItemService
from gateway.core.memory import MemoryService
from gateway.core.rules import Limits
from gateway.core.threads import ThreadService
from gateway.core.turns import TurnService
from gateway.store.cached import CachedStore


@dataclass(frozen=True, slots=True)
class Services:
    store: CachedStore
    limits: Limits
    memory: MemoryService
    turns: TurnService
    threads: ThreadService
    assistants: AssistantService
    items: ItemService
    # Integer microseconds since the epoch; tests pass their own to travel in time.
    clock: Callable[[], int]
