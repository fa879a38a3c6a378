"""The Freddy door's assistant bodies and objects (SPEC §11), as `aitronos-sdk` 5.0.0 sends and parses
them (`AssistantResponse`, `AssistantListResponse`).

SPEC §11 and the SDK name some fields differently (`model` / `default_model_key`, `memory` /
`memory_enabled`, `metadata` / the update's `assistant_metadata`): both are accepted and both are
answered. Fields of Freddy's assistants the gateway does not implement (tools, access lists, sampling
settings, ...) are fields here too, accepted at their defaults only (`unsupported.py`).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from gateway.core.records import AssistantRecord, Page
from gateway.doors.freddy.schemas import Metadata, ObjectId, Unsupported

Name = Annotated[str, Meta(min_length=1, max_length=256)]
Model = Annotated[str, Meta(min_length=1, max_length=256)]
Text = Annotated[str, Meta(max_length=262_144)]
Memory = Annotated[str, Meta(max_length=16)]

# Freddy's values of its assistant settings that match what the gateway does anyway.
DEFAULTS: dict[str, Any] = {
    "is_default": False,
    "is_active": True,
    "api_enabled": True,
    "streaming": True,
    "store_responses": True,
    "truncation": True,
    "public_enabled": False,
    "moderation_enabled": False,
    "output_mode": "text",
}


class _Unimplemented(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Freddy's assistant settings that the gateway does not implement."""

    avatar_id: Unsupported = None
    icon_id: Unsupported = None
    icon_type: Unsupported = None
    icon_data: Unsupported = None
    is_default: Unsupported = None
    allowed_model_providers: Unsupported = None
    instructions_thread_id: Unsupported = None
    system_message: Unsupported = None
    context_strategy: Unsupported = None
    context_window: Unsupported = None
    max_tool_calls: Unsupported = None
    parallel_tool_calls: Unsupported = None
    service_tier: Unsupported = None
    store_responses: Unsupported = None
    temperature: Unsupported = None
    frequency_penalty: Unsupported = None
    presence_penalty: Unsupported = None
    logit_bias: Unsupported = None
    top_logprobs: Unsupported = None
    top_p: Unsupported = None
    output_mode: Unsupported = None
    response_format: Unsupported = None
    seed: Unsupported = None
    stop_sequences: Unsupported = None
    max_completion_tokens: Unsupported = None
    access_mode: Unsupported = None
    access_departments: Unsupported = None
    access_users: Unsupported = None
    editable_by_users: Unsupported = None
    visible_in_chat_to_users: Unsupported = None
    editable_by_roles: Unsupported = None
    visible_to_roles: Unsupported = None
    api_enabled: Unsupported = None
    public_enabled: Unsupported = None
    is_active: Unsupported = None
    streaming: Unsupported = None
    moderation_enabled: Unsupported = None
    safety_level: Unsupported = None
    truncation: Unsupported = None
    preset_prompts: Unsupported = None
    text_config: Unsupported = None
    tool_configurations: Unsupported = None
    reasoning: Unsupported = None
    vector_store_ids: Unsupported = None
    json_schemas: Unsupported = None
    rule_ids: Unsupported = None


UNSUPPORTED = tuple(_Unimplemented.__struct_fields__)


class AssistantCreate(_Unimplemented, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    organization_id: ObjectId | None = None
    description: Text | None = None
    instructions: Text | None = None
    model: Model | None = None
    default_model_key: Model | None = None
    memory: Memory | None = None
    memory_enabled: bool | None = None
    metadata: Metadata | None = None


class AssistantUpdateBody(_Unimplemented, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """PUT: the fields given replace the stored ones ("" clears a text); metadata merges key by key."""

    name: Name | None = None
    organization_id: ObjectId | None = None
    description: Text | None = None
    instructions: Text | None = None
    model: Annotated[str, Meta(max_length=256)] | None = None
    default_model_key: Annotated[str, Meta(max_length=256)] | None = None
    memory: Memory | None = None
    memory_enabled: bool | None = None
    metadata: Metadata | None = None
    assistant_metadata: Metadata | None = None


# -- answers ----------------------------------------------------------------------------------------


class AssistantObject(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: str = "assistant"
    organization_id: str
    name: str
    description: str | None
    instructions: str | None
    model: str | None
    default_model_key: str | None  # = model, as the SDK names it
    memory: str
    memory_enabled: bool
    metadata: Metadata
    # Keys belong to an organization, not to a user: the creator is the organization.
    created_by: str
    created_at: int  # Unix seconds, as the SDK parses them
    updated_at: int


class Pagination(msgspec.Struct, frozen=True, kw_only=True):
    total: int
    limit: int
    offset: int
    has_more: bool


class FiltersApplied(msgspec.Struct, frozen=True, kw_only=True):
    search: str | None


class UserContext(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    organization_count: int = 1


class AssistantList(msgspec.Struct, frozen=True, kw_only=True):
    object: str = "list"
    assistants: list[AssistantObject]
    total: int
    organization_id: str
    pagination: Pagination
    filters_applied: FiltersApplied
    user_context: UserContext


class DeletedAssistant(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: str = "assistant.deleted"
    deleted: bool = True
    success: bool = True
    detached_threads: int  # its threads remain, without an assistant


def assistant_object(a: AssistantRecord) -> AssistantObject:
    return AssistantObject(
        id=a.id,
        organization_id=a.org,
        name=a.name,
        description=a.description,
        instructions=a.instructions,
        model=a.model,
        default_model_key=a.model,
        memory=a.memory,
        memory_enabled=a.memory != "off",
        metadata=a.metadata,
        created_by=a.org,
        created_at=a.created_us // 1_000_000,
        updated_at=a.updated_us // 1_000_000,
    )


def assistant_list(
    org: str, page: Page[AssistantRecord], *, limit: int, offset: int, search: str | None
) -> AssistantList:
    total = page.total if page.total is not None else len(page.items)
    return AssistantList(
        assistants=[assistant_object(a) for a in page.items],
        total=total,
        organization_id=org,
        pagination=Pagination(total=total, limit=limit, offset=offset, has_more=page.has_more),
        filters_applied=FiltersApplied(search=search),
        user_context=UserContext(user_id=org),
    )
