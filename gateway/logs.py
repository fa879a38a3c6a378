"""structlog configuration: one JSON object per line, context from contextvars.

Each line leaves in one `write` system call on standard output, so that the lines of several worker
processes sharing one pipe or file never interleave (a write of up to `PIPE_BUF`, 4,096 bytes on
Linux, to a pipe is atomic; `print` makes two writes, the text and the newline).
"""

from __future__ import annotations

import io
import logging
import os
import sys
from typing import Any

import structlog


class LineLogger:
    """A structlog logger writing each rendered line with one write."""

    def msg(self, message: str) -> None:
        line = (message + "\n").encode("utf-8", "backslashreplace")
        stream = sys.stdout  # looked up each time: tests and servers replace it
        try:
            fd = stream.fileno()
        except (AttributeError, io.UnsupportedOperation, ValueError):
            stream.write(line.decode("utf-8"))
            stream.flush()
            return
        stream.flush()  # anything printed before stays before
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view) :]

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _line_logger(*_: Any) -> LineLogger:
    return LineLogger()


def configure_logging(level: str = "info") -> None:
    """Idempotent. Request id, organization, thread and model are bound per request."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=_line_logger,
        cache_logger_on_first_use=False,
    )
