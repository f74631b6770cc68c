"""Logging: one line per record, ids only — never names, NHS numbers or clinical text."""

from __future__ import annotations

import logging

__all__ = ["configure_logging"]


# At DEBUG these print SQL parameters, i.e. patient data: never below WARNING.
_QUIET = ("aiosqlite", "asyncpg", "sqlalchemy", "sqlalchemy.engine", "httpx", "httpcore")


def configure_logging(level: str = "info") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
