"""/v1/assistants (SPEC §11): create, list, retrieve, update, delete an organization's assistants."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from gateway.core.assistants import memory_mode
from gateway.core.records import AssistantPatch, Memory
from gateway.core.services import Services
from gateway.doors.freddy.assistant_wire import (
    DEFAULTS,
    UNSUPPORTED,
    AssistantCreate,
    AssistantList,
    AssistantObject,
    AssistantUpdateBody,
    DeletedAssistant,
    assistant_list,
    assistant_object,
)
from gateway.doors.freddy.translate import one_of
from gateway.doors.freddy.unsupported import refuse_unsupported, refuse_unsupported_values
from gateway.http.auth import check_organization

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="page size, 1-100")]
Offset = Annotated[int, QueryParameter(ge=0, le=1_000_000, description="how many to skip")]
Search = Annotated[str | None, QueryParameter(max_length=256, description="part of the name, any case")]
Loose = Annotated[str | None, QueryParameter(max_length=256)]
# The list is newest first: Freddy's `sort_by=created_at`, `sort_order=desc` are what it does.
_LIST_DEFAULTS = {"include_inactive": False, "sort_by": "created_at", "sort_order": "desc"}


def _memory(memory: str | None, memory_enabled: bool | None) -> Memory | None:
    """The memory mode a body asks for, by SPEC §11's `memory` or the SDK's `memory_enabled`;
    `memory` wins when both are given; `memory_enabled: true` is "auto"."""
    mode = memory_mode(memory)
    if mode is not None or memory_enabled is None:
        return mode
    return "auto" if memory_enabled else "off"


class AssistantController(Controller):
    path = "/assistants"
    tags = ["assistants"]

    @post("/", status_code=201, summary="Create an assistant")
    async def create_assistant(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        data: JSONBody[AssistantCreate],
    ) -> AssistantObject:
        org: str = request.state.org
        check_organization(data.organization_id, org)
        refuse_unsupported(data, UNSUPPORTED, defaults=DEFAULTS)
        created = await services.assistants.create(
            org,
            name=data.name,
            instructions=data.instructions,
            model=one_of({"model": data.model, "default_model_key": data.default_model_key}, "models"),
            memory=_memory(data.memory, data.memory_enabled),
            description=data.description,
            metadata=data.metadata,
        )
        return assistant_object(created)

    @get("/", summary="List assistants, newest first")
    async def list_assistants(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        limit: Limit = 20,
        offset: Offset = 0,
        search: Search = None,
        fields: FromQuery[Literal["summary", "standard", "full"] | None] = None,
        visible_in_chat: FromQuery[bool | None] = None,
        for_chat: FromQuery[bool | None] = None,
        include_inactive: FromQuery[bool] = False,
        access_mode: Loose = None,
        vector_store_id: Loose = None,
        sort_by: Loose = None,
        sort_order: Loose = None,
    ) -> AssistantList:
        # Every answer is the full object (a superset of `summary` and `standard`), and every
        # assistant is visible in chat to every member: those parameters need no filter.
        del fields, visible_in_chat, for_chat
        refuse_unsupported_values(
            {
                "include_inactive": include_inactive,
                "access_mode": access_mode,
                "vector_store_id": vector_store_id,
                "sort_by": sort_by,
                "sort_order": sort_order,
            },
            _LIST_DEFAULTS,
        )
        org: str = request.state.org
        page = await services.assistants.page(org, limit=limit, offset=offset, search=search)
        return assistant_list(org, page, limit=limit, offset=offset, search=search or None)

    @get("/{assistant_id:str}", summary="Retrieve an assistant")
    async def get_assistant(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        assistant_id: FromPath[str],
    ) -> AssistantObject:
        return assistant_object(await services.assistants.get(request.state.org, assistant_id))

    @put("/{assistant_id:str}", summary="Update an assistant")
    async def update_assistant(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        assistant_id: FromPath[str],
        data: JSONBody[AssistantUpdateBody],
    ) -> AssistantObject:
        org: str = request.state.org
        check_organization(data.organization_id, org)
        refuse_unsupported(data, UNSUPPORTED, defaults=DEFAULTS)
        change = AssistantPatch(
            name=data.name,
            instructions=data.instructions,
            model=one_of({"model": data.model, "default_model_key": data.default_model_key}, "models"),
            memory=_memory(data.memory, data.memory_enabled),
            description=data.description,
            metadata=one_of(
                {"metadata": data.metadata, "assistant_metadata": data.assistant_metadata}, "metadata"
            ),
        )
        return assistant_object(await services.assistants.update(org, assistant_id, change))

    @delete(
        "/{assistant_id:str}", status_code=200, summary="Delete an assistant; its threads remain, detached"
    )
    async def delete_assistant(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        assistant_id: FromPath[str],
    ) -> DeletedAssistant:
        detached = await services.assistants.delete(request.state.org, assistant_id)
        return DeletedAssistant(id=assistant_id, detached_threads=detached)
