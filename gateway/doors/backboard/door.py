"""The Backboard door (SPEC §13): Backboard's API under `/api`, so that the official
`backboard-sdk` runs unchanged with `base_url="<gateway>/api"`; its `detail` error envelope."""

from __future__ import annotations

import msgspec
from litestar import Router
from litestar.di import Provide

from gateway.core.calls import Caller
from gateway.core.services import Services
from gateway.doors.backboard.assistants import (
    create_assistant,
    delete_assistant,
    get_assistant,
    list_assistants,
    update_assistant,
)
from gateway.doors.backboard.errors import handle_exception
from gateway.doors.backboard.fast import FastMessages, fast_route
from gateway.doors.backboard.memories import ROUTES as MEMORY_ROUTES
from gateway.doors.backboard.messages import add_message, send_message
from gateway.doors.backboard.threads import (
    create_thread,
    delete_thread,
    get_thread,
    list_assistant_threads,
    list_threads,
)
from gateway.doors.backboard.turn import TurnEdge
from gateway.http.auth import KeyRing, authenticate
from gateway.http.envelopes import Handler
from gateway.http.query import refuse_unknown_query

PREFIX = "/api"


class BackboardDoor(msgspec.Struct, frozen=True, kw_only=True):
    router: Router
    fast: FastMessages
    # Its envelope, for the errors of its paths outside every route (an unknown path, a method).
    errors: tuple[str, Handler]


def backboard_door(
    services: Services, keyring: KeyRing, caller: Caller, *, max_body_bytes: int
) -> BackboardDoor:
    edge = TurnEdge(services, caller)
    router = Router(
        path=PREFIX,
        route_handlers=[
            send_message,
            add_message,
            create_assistant,
            list_assistants,
            get_assistant,
            update_assistant,
            delete_assistant,
            create_thread,
            list_threads,
            list_assistant_threads,
            get_thread,
            delete_thread,
            *MEMORY_ROUTES,
        ],
        guards=[authenticate(keyring), refuse_unknown_query],
        dependencies={"edge": Provide(lambda: edge, use_cache=True, sync_to_thread=False)},
        exception_handlers={Exception: handle_exception},
    )
    return BackboardDoor(
        router=router,
        fast=fast_route(edge, keyring=keyring, max_body_bytes=max_body_bytes),
        errors=(PREFIX, handle_exception),
    )
