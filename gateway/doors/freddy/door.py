"""The Freddy door (the native API): its routes under `/v1` (turns, threads, messages, assistants),
its fast path, its error envelope."""

from __future__ import annotations

import msgspec
from litestar import Router
from litestar.di import Provide

from gateway.core.services import Services
from gateway.doors.freddy.assistants import AssistantController
from gateway.doors.freddy.errors import handle_exception
from gateway.doors.freddy.fast import FastTurns, fast_route
from gateway.doors.freddy.memories import MemoryController, memory_operation
from gateway.doors.freddy.messages import MessageController
from gateway.doors.freddy.responses import cancel_response, create_response
from gateway.doors.freddy.threads import ThreadController
from gateway.doors.freddy.turn import TurnEdge
from gateway.http.auth import KeyRing, authenticate
from gateway.http.query import refuse_unknown_query


class FreddyDoor(msgspec.Struct, frozen=True, kw_only=True):
    router: Router
    fast: FastTurns


def freddy_door(services: Services, keyring: KeyRing, *, max_body_bytes: int) -> FreddyDoor:
    edge = TurnEdge(services.turns)
    router = Router(
        path="/v1",
        route_handlers=[
            ThreadController,
            MessageController,
            AssistantController,
            MemoryController,
            memory_operation,
            create_response,
            cancel_response,
        ],
        guards=[authenticate(keyring), refuse_unknown_query],
        dependencies={"edge": Provide(lambda: edge, use_cache=True, sync_to_thread=False)},
        exception_handlers={Exception: handle_exception},
    )
    return FreddyDoor(router=router, fast=fast_route(edge, keyring=keyring, max_body_bytes=max_body_bytes))
