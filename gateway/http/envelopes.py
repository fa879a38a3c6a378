"""Which door's envelope an error outside every route (an unknown path, a method a path does not
have) is answered in: the door whose paths the request was meant for."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from litestar import Request, Response

Handler = Callable[[Request[Any, Any, Any], Exception], Response[Any]]


def by_path_prefix(doors: Sequence[tuple[str, Handler]], default: Handler) -> Handler:
    """The handler of the first door whose prefix the path is under (`/api` takes `/api` and
    `/api/...`, not `/apis`), else `default`."""

    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        path: str = request.scope.get("path", "")
        for prefix, handler in doors:
            if path == prefix or path.startswith(prefix + "/"):
                return handler(request, exc)
        return default(request, exc)

    return handle
