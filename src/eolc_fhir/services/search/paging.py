"""Shared paging rules: _count default and maximum."""

from __future__ import annotations

from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.services.context import ServerContext

__all__ = ["page_size"]


def page_size(ctx: ServerContext, raw: str | None) -> int:
    """_count as an int: the default when absent, capped at the maximum, 400 when not a number."""
    if raw is None:
        return ctx.settings.default_page_size
    if not raw.isdigit():
        raise InvalidRequest(f"_count '{raw}' is not a non-negative integer", expression="_count")
    return min(int(raw), ctx.settings.max_page_size)
