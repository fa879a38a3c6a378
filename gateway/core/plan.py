"""What a turn's model call is made of besides its history (SPEC §3, §6, §11): the model and its
routes, the system instructions that come first, and the budget left for the history.

The assistant's part: its `instructions` are the first system message, before the request's own
`instructions`; its `model` is the turn's when the request names none, else the gateway's default.
"""

from __future__ import annotations

import msgspec

from gateway.core.budget import Budget
from gateway.core.calls import Caller
from gateway.core.records import AssistantRecord
from gateway.core.requests import TurnRequest
from providers.base import ChatMessage
from providers.registry import Route


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    model: str  # as named (the response's and the thread's last model)
    routes: tuple[Route, ...]
    instructions: tuple[ChatMessage, ...]  # not saved: neither thread messages nor a response's context
    budget: Budget
    assistant_id: str | None
    # The assistant's record (its memory mode, SPEC §12).
    assistant: AssistantRecord | None = None


def plan_turn(
    caller: Caller, req: TurnRequest, assistant: AssistantRecord | None, default_model: str
) -> Plan:
    """The model, instructions and budget of a turn under `assistant` (None: no assistant).

    Raises `MODEL_NOT_FOUND` / `PROVIDER_NOT_CONFIGURED` for the model and
    `CONTEXT_LENGTH_EXCEEDED` when the new inputs and the instructions alone do not fit."""
    model = req.model or (assistant.model if assistant is not None else None) or default_model
    routes = caller.routes(model)
    texts = (assistant.instructions if assistant is not None else None, req.instructions)
    instructions = tuple(ChatMessage("system", (t,)) for t in texts if t)
    # The context must fit every model a fallback may hand it to.
    window = min(r.provider.context_window(r.model) for r in routes) - (req.max_output_tokens or 0)
    first = routes[0].provider
    framing = getattr(first, "token_framing", None)  # adapters of other estimates have none
    budget = Budget(max(window, 0), instructions + req.inputs, first.count_tokens, framing=framing)
    return Plan(
        model=model,
        routes=routes,
        instructions=instructions,
        budget=budget,
        assistant_id=assistant.id if assistant is not None else None,
        assistant=assistant,
    )
