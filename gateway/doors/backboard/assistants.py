"""The assistant routes of the Backboard door (SPEC §13, §11): create, list (`skip`, `limit`, exact
`name`), retrieve, update, delete. `system_prompt` is the assistant's instructions, `llm_provider`
+ `model_name` its model."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from gateway.core.records import AssistantPatch, AssistantRecord
from gateway.core.services import Services
from gateway.doors.backboard.ids import assistant_path_id, is_uuid, new_uuid
from gateway.doors.backboard.lists import walk
from gateway.doors.backboard.objects import BackboardAssistant, BackboardAssistantDeleted
from gateway.doors.backboard.render import assistant_object, gateway_model
from gateway.doors.backboard.schemas import (
    ASSISTANT_UNSUPPORTED,
    BackboardAssistantCreate,
    BackboardAssistantUpdate,
)
from gateway.doors.backboard.threads import Limit, Skip
from gateway.doors.backboard.unsupported import refuse_unsupported
from gateway.times import iso

_PAGE = 100  # the core's largest page of assistants


@post("/assistants", status_code=200, summary="Create an assistant")
async def create_assistant(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    data: JSONBody[BackboardAssistantCreate],
) -> BackboardAssistant:
    refuse_unsupported(data, ASSISTANT_UNSUPPORTED)
    assistant = await services.assistants.create(
        request.state.org,
        name=data.name,
        instructions=data.system_prompt,
        model=gateway_model(data.llm_provider, data.model_name),
        description=data.description,
        assistant_id=new_uuid(),
    )
    return assistant_object(assistant)


@get("/assistants", summary="List assistants, newest first")
async def list_assistants(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    skip: Skip = 0,
    limit: Limit = 100,
    name: Annotated[str | None, QueryParameter(max_length=256, description="exact name")] = None,
) -> list[BackboardAssistant]:
    org: str = request.state.org

    async def fetch(offset: int | None) -> tuple[list[AssistantRecord], int | None]:
        start = offset or 0
        # The core's search is by part of the name, case-insensitively; Backboard's is exact.
        page = await services.assistants.page(org, limit=_PAGE, offset=start, search=name)
        return page.items, start + len(page.items) if page.has_more and page.items else None

    def keep(a: AssistantRecord) -> bool:
        return is_uuid(a.id) and (name is None or a.name == name)

    return [assistant_object(a) for a in await walk(fetch, keep, skip=skip, limit=limit)]


@get("/assistants/{assistant_id:str}", summary="Retrieve an assistant")
async def get_assistant(
    request: Request[Any, Any, Any], services: NamedDependency[Services], assistant_id: FromPath[str]
) -> BackboardAssistant:
    return assistant_object(await services.assistants.get(request.state.org, assistant_path_id(assistant_id)))


@put("/assistants/{assistant_id:str}", summary="Update an assistant (the fields given)")
async def update_assistant(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    assistant_id: FromPath[str],
    data: JSONBody[BackboardAssistantUpdate],
) -> BackboardAssistant:
    aid = assistant_path_id(assistant_id)
    refuse_unsupported(data, ASSISTANT_UNSUPPORTED)
    change = AssistantPatch(
        name=data.name,
        instructions=data.system_prompt,
        model=gateway_model(data.llm_provider, data.model_name),
        description=data.description,
    )
    return assistant_object(await services.assistants.update(request.state.org, aid, change))


@delete("/assistants/{assistant_id:str}", status_code=200, summary="Delete an assistant; its threads stay")
async def delete_assistant(
    request: Request[Any, Any, Any], services: NamedDependency[Services], assistant_id: FromPath[str]
) -> BackboardAssistantDeleted:
    aid = assistant_path_id(assistant_id)
    detached = await services.assistants.delete(request.state.org, aid)
    return BackboardAssistantDeleted(
        message="Assistant deleted successfully",
        assistant_id=aid,
        deleted_at=iso(services.clock()),
        threads_detached=detached,
    )
