"""Logging: one line per record, ids only — never names, NHS numbers or clinical text.

Every handler we configure (ours and uvicorn's) formats an exception as its types and
frames only: messages of database errors quote SQL parameters, i.e. patient data.
"""

from __future__ import annotations

import logging
import logging.config
import traceback
from types import TracebackType
from typing import Any

__all__ = ["configure_logging", "crash_report", "uvicorn_log_config", "MessageWithheldFormatter"]

# At DEBUG these print SQL parameters, i.e. patient data: never below WARNING.
_QUIET = ("aiosqlite", "asyncpg", "sqlalchemy", "sqlalchemy.engine", "httpx", "httpcore")
_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_CHAIN_LIMIT = 8
_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class MessageWithheldFormatter(logging.Formatter):
    """A formatter whose exceptions are :func:`crash_report` lines: no message, no source."""

    def format(self, record: logging.LogRecord) -> str:
        # Another handler may have cached the full traceback on the record: never reuse it.
        cached, record.exc_text = record.exc_text, None
        try:
            return super().format(record)
        finally:
            record.exc_text = cached

    def formatException(self, ei: _ExcInfo) -> str:  # noqa: N802 (logging's name)
        return crash_report(ei[1]) if ei[1] is not None else "-"

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return "(stack withheld)"


def configure_logging(level: str = "info") -> None:
    """Root logging for our processes: one line per record, exception messages withheld.

    Like ``logging.basicConfig``, the handler is added only when the root logger has none
    (a server or CLI process; a test runner brings its own)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(MessageWithheldFormatter(_FORMAT))
        root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


def uvicorn_log_config(level: str = "info") -> dict[str, Any]:
    """``log_config`` for uvicorn: its loggers hand their records to the root handler that
    :func:`configure_logging` installed, instead of formatting tracebacks themselves."""
    names = ("uvicorn", "uvicorn.error", "uvicorn.access")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {name: {"handlers": [], "propagate": True, "level": level.upper()}
                    for name in names},
    }


def crash_report(exc: BaseException) -> str:
    """``exc``'s traceback on one line, without any message: for each exception of the
    chain (causes and contexts) its type and frames (file, line, function). Messages,
    source lines and locals may quote patient data, so none of them is included."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    item: BaseException | None = exc
    link = ""
    while item is not None and id(item) not in seen and len(chain) < _CHAIN_LIMIT:
        seen.add(id(item))
        chain.append((item, link))
        if item.__cause__ is not None:
            item, link = item.__cause__, "which was the direct cause of"
        elif item.__context__ is not None and not item.__suppress_context__:
            item, link = item.__context__, "raised while handling"
        else:
            item = None
    parts = []
    for item, link_to_next in reversed(chain):
        frames = " > ".join(f"{f.filename}:{f.lineno} in {f.name}"
                            for f in traceback.extract_tb(item.__traceback__))
        parts.append(f"{_kind(item)} (message withheld); traceback (most recent call last): "
                     f"{frames or '-'}")
        if link_to_next:
            parts.append(link_to_next)
    return " | ".join(parts)


def _kind(exc: BaseException) -> str:
    """The exception's qualified type and its driver codes (never its text)."""
    cls = type(exc)
    name = cls.__qualname__ if cls.__module__ == "builtins" else \
        f"{cls.__module__}.{cls.__qualname__}"
    codes = [f"{attr}={getattr(exc, attr)}" for attr in ("errno", "sqlite_errorname", "sqlstate")
             if getattr(exc, attr, None) is not None]
    return f"{name} [{', '.join(codes)}]" if codes else name
