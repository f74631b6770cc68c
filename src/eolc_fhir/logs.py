"""Logging: one line per record, ids only — never names, NHS numbers or clinical text."""

from __future__ import annotations

import logging

__all__ = ["configure_logging"]


def configure_logging(level: str = "info") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
