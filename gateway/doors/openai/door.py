"""The OpenAI door (SPEC §14): OpenAI's Responses and Conversations APIs under `/v1/responses` and
`/v1/conversations`, so that the official `openai` SDK runs unchanged with
`base_url="<gateway>/v1"` (its key as `Authorization: Bearer`); OpenAI's error envelope."""

from __future__ import annotations

import msgspec
from litestar import Router
from litestar.di import Provide

from gateway.core.services import Services
from gateway.doors.openai.conversations import (
    create_conversation,
    create_items,
    delete_conversation,
    delete_item,
    get_conversation,
    get_item,
    list_items,
    update_conversation,
)
from gateway.doors.openai.errors import handle_exception
from gateway.doors.openai.fast import FastResponses, fast_route
from gateway.doors.openai.responses import create_response, delete_response, get_response, list_input_items
from gateway.doors.openai.turn import TurnEdge
from gateway.http.auth import KeyRing, authenticate
from gateway.http.envelopes import Handler
from gateway.http.query import refuse_unknown_query

PREFIXES = ("/v1/responses", "/v1/conversations")


class OpenAIDoor(msgspec.Struct, frozen=True, kw_only=True):
    router: Router
    fast: FastResponses
    # Its envelope, for the errors of its paths outside every route (an unknown path, a method).
    errors: tuple[tuple[str, Handler], ...]


def openai_door(services: Services, keyring: KeyRing, *, max_body_bytes: int) -> OpenAIDoor:
    edge = TurnEdge(services.turns)
    router = Router(
        path="/v1",
        route_handlers=[
            create_response,
            get_response,
            delete_response,
            list_input_items,
            create_conversation,
            get_conversation,
            update_conversation,
            delete_conversation,
            list_items,
            create_items,
            get_item,
            delete_item,
        ],
        guards=[authenticate(keyring), refuse_unknown_query],
        dependencies={"openai_edge": Provide(lambda: edge, use_cache=True, sync_to_thread=False)},
        exception_handlers={Exception: handle_exception},
    )
    return OpenAIDoor(
        router=router,
        fast=fast_route(edge, keyring=keyring, max_body_bytes=max_body_bytes),
        errors=tuple((prefix, handle_exception) for prefix in PREFIXES),
    )
