"""Assistants (SPEC §11), door-neutral: every door's assistant routes call these.

An assistant is an organization's profile for a family of threads: its `instructions` come first in
its threads' turns and its `model` is their default; its `memory` is the default memory mode of
their turns (SPEC §12: `off`, `auto`, `readonly`, named in any case).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import msgspec
import structlog

from gateway.core.calls import Caller
from gateway.core.records import AssistantPatch, AssistantRecord, Memory, Page
from gateway.core.rules import Limits, check_metadata, is_valid_thread_id, merge_metadata
from gateway.errors import AssistantNotFound, ProviderNotConfigured, ValidationFailed
from gateway.ids import new_id
from gateway.store.protocols import AssistantStore

NAME_MAX = 256
LIST_MAX = 100
_MODES: dict[str, Memory] = {"off": "off", "auto": "auto", "readonly": "readonly"}


def memory_mode(value: str | None, *, name: str = "memory") -> Memory | None:
    """A memory mode as a client names it (`auto`, `Auto`, `READONLY`, ...); None stays None.
    Any other value: 422 naming the field."""
    if value is None:
        return None
    mode = _MODES.get(value.strip().lower())
    if mode is None:
        raise ValidationFailed(f"`{name}` must be one of off, auto, readonly.", details={name: value[:64]})
    return mode


def known_assistant_id(assistant_id: str) -> str:
    """An assistant id as given in a path or a body: one that cannot exist is simply not found."""
    if not is_valid_thread_id(assistant_id):
        raise AssistantNotFound(assistant_id[:128])
    return assistant_id


def _check_name(name: str) -> str:
    if not name.strip() or len(name) > NAME_MAX:
        raise ValidationFailed(
            f"An assistant's `name` must be 1 to {NAME_MAX} characters, not only spaces.",
            details={"name": name[:NAME_MAX]},
        )
    return name


def apply_assistant_patch(
    a: AssistantRecord, change: AssistantPatch, limits: Limits, at_us: int
) -> AssistantRecord:
    """An update (PUT) of SPEC §11: the fields given replace the stored ones ("" clears a text),
    metadata merges key by key (a `None` value removes a key)."""
    metadata = a.metadata
    if change.metadata:
        metadata = merge_metadata(a.metadata, change.metadata)
        check_metadata(metadata, limits, owner="Assistant")

    def text(new: str | None, old: str | None) -> str | None:
        return old if new is None else (new or None)

    changed = msgspec.structs.replace(
        a,
        name=a.name if change.name is None else _check_name(change.name),
        instructions=text(change.instructions, a.instructions),
        model=text(change.model, a.model),
        memory=a.memory if change.memory is None else (memory_mode(change.memory) or a.memory),
        description=text(change.description, a.description),
        metadata=metadata,
    )
    if changed == a:
        return a
    return msgspec.structs.replace(changed, updated_us=at_us)


class AssistantService:
    """Create, list, get, update and delete the assistants of an organization."""

    def __init__(
        self, assistants: AssistantStore, caller: Caller, limits: Limits, clock: Callable[[], int]
    ) -> None:
        self._assistants = assistants
        self._caller = caller
        self._limits = limits
        self._clock = clock

    def _check_model(self, model: str | None) -> None:
        """A model no provider could ever serve is refused now (404 `MODEL_NOT_FOUND`); one whose
        provider has no key yet is kept: the turn answers 503 until a key is configured."""
        if not model:
            return
        with contextlib.suppress(ProviderNotConfigured):
            self._caller.routes(model)

    async def create(
        self,
        org: str,
        *,
        name: str,
        instructions: str | None = None,
        model: str | None = None,
        memory: str | None = None,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        assistant_id: str | None = None,
    ) -> AssistantRecord:
        """A new assistant; `assistant_id` None: a generated `asst_...` id (the Backboard door
        passes UUIDs). 409 `ASSISTANT_ALREADY_EXISTS` when the organization has that id; 422 for
        a memory mode that is none; 404 `MODEL_NOT_FOUND` for a model nothing routes."""
        mode = memory_mode(memory) or "off"
        meta = dict(metadata or {})
        check_metadata(meta, self._limits, owner="Assistant")
        self._check_model(model)
        if assistant_id is not None and not is_valid_thread_id(assistant_id):
            raise ValidationFailed(
                "An assistant id is 1-128 of A-Z a-z 0-9 _ - . :, not only dots.",
                details={"id": assistant_id[:128]},
            )
        at = self._clock()
        record = AssistantRecord(
            org=org,
            id=assistant_id or new_id("asst"),
            name=_check_name(name),
            instructions=instructions or None,
            model=model or None,
            memory=mode,
            description=description or None,
            metadata=meta,
            created_us=at,
            updated_us=at,
        )
        return await self._assistants.create_assistant(record)

    async def get(self, org: str, assistant_id: str) -> AssistantRecord:
        """The organization's assistant; 404 `ASSISTANT_NOT_FOUND` for an unknown id and for
        another organization's."""
        aid = known_assistant_id(assistant_id)
        found = await self._assistants.get_assistant(org, aid)
        if found is None:
            raise AssistantNotFound(aid)
        structlog.contextvars.bind_contextvars(assistant_id=aid)
        return found

    async def find(self, org: str, assistant_id: str) -> AssistantRecord | None:
        """The organization's assistant, or None (a thread's assistant deleted meanwhile)."""
        if not is_valid_thread_id(assistant_id):
            return None
        return await self._assistants.get_assistant(org, assistant_id)

    async def page(
        self, org: str, *, limit: int, offset: int = 0, search: str | None = None
    ) -> Page[AssistantRecord]:
        """Newest first; `search` by name (case-insensitive substring); `total` always given."""
        if not 1 <= limit <= LIST_MAX or offset < 0 or len(search or "") > NAME_MAX:
            raise ValidationFailed(
                f"`limit` is 1-{LIST_MAX}, `offset` not negative, `search` at most {NAME_MAX} characters."
            )
        return await self._assistants.list_assistants(org, limit=limit, offset=offset, search=search or None)

    async def update(self, org: str, assistant_id: str, change: AssistantPatch) -> AssistantRecord:
        """PUT of SPEC §11, under the store's atomic read-modify-write."""
        aid = known_assistant_id(assistant_id)
        memory_mode(change.memory)
        self._check_model(change.model)
        limits, at = self._limits, self._clock()
        return await self._assistants.update_assistant(
            org, aid, lambda a: apply_assistant_patch(a, change, limits, at), at
        )

    async def delete(self, org: str, assistant_id: str) -> int:
        """The assistant and its memories; its threads remain, detached. How many were detached."""
        aid = known_assistant_id(assistant_id)
        detached = await self._assistants.delete_assistant(org, aid, self._clock())
        if detached is None:
            raise AssistantNotFound(aid)
        return detached
