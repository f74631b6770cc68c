"""Reading raw ASGI scopes, for the middlewares that run before routing."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

__all__ = ["Scope", "header"]

Scope = MutableMapping[str, Any]


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (``name`` in lower case), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
