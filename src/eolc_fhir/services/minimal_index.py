"""Fallback index extraction (_id and identifier) for when no search registry is loaded."""

from __future__ import annotations

from typing import Any

from eolc_fhir.storage.model import IndexRows, TokenRow

__all__ = ["extract"]


def extract(resource: dict[str, Any]) -> IndexRows:
    rows = IndexRows()
    rows.tokens.append(TokenRow("_id", None, resource.get("id")))
    for ident in resource.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("value"):
            rows.tokens.append(TokenRow("identifier", ident.get("system"), ident["value"]))
    return rows
