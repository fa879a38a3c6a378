"""Shared helpers of the malformed-input tests: the organization's threads as a snapshot, a good turn
body to break, one `Case` a malformed request, and the check that it was refused with the envelope."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Api, err, ok, user


async def snapshot(api: Api) -> dict[str, dict[str, Any]]:
    """Every thread of the caller's organization, visible or hidden, by id."""
    out: dict[str, dict[str, Any]] = {}
    for visible in ("true", "false"):
        after = None
        while True:
            q: dict[str, Any] = {"limit": 100, "visible_in_ui": visible}
            if after:
                q["after"] = after
            page = ok(await api.get("/v1/threads", params=q))
            out.update({t["id"]: t for t in page["data"]})
            if not page["has_more"]:
                break
            after = page["last_id"]
    return out


TURN = "/v1/model/response"
GOOD: dict[str, Any] = {"model": "echo", "inputs": [user("hi")]}


def body(**changes: Any) -> dict[str, Any]:
    """The good turn body with fields replaced (a value of `...` removes the field)."""
    out = {**GOOD, **changes}
    return {k: v for k, v in out.items() if v is not ...}


def item(**fields: Any) -> dict[str, Any]:
    return body(inputs=[fields])


JSON = {"Content-Type": "application/json"}


class Case:
    def __init__(
        self,
        name: str,
        status: int,
        code: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        method: str = "POST",
        path: str = TURN,
        params: dict[str, str] | None = None,
    ) -> None:
        self.name, self.status, self.code = name, status, code
        self.json_body, self.content = json_body, content
        self.headers = headers or {}
        self.method, self.path, self.params = method, path, params

    def kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"headers": self.headers}
        if self.content is not None:
            kw["content"] = self.content
            kw["headers"] = {**JSON, **self.headers}
        elif self.json_body is not None:
            kw["json"] = self.json_body
        if self.params is not None:
            kw["params"] = self.params
        return kw


V = "VALIDATION_ERROR"
CP = "CONFLICTING_PARAMETERS"


def check_refusal(r: httpx.Response, case: Case) -> None:
    err(r, case.status, case.code)
    assert "Traceback" not in r.text
