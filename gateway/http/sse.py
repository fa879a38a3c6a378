"""Server-sent events as an answer, for every door."""

from __future__ import annotations

from typing import Any

from litestar.response import Stream

# No proxy may hold the events back or cache them.
SSE_HEADERS = {"Cache-Control": "no-cache", "Connection": "keep-alive", "X-Accel-Buffering": "no"}


class EventStream(Stream):
    """A `text/event-stream` answer, even from a handler whose default is JSON.

    Litestar 2 lets the handler's media type win over the response's own, contrary to its docs.
    """

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["media_type"] = None
        return super().to_asgi_response(*args, **kwargs)
