"""Shared paging rules: _count default and maximum, cursors, and the URLs of pages."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlencode

import orjson

from eolc_fhir.fhir.bundle import BundleEntry
from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.services.context import ServerContext

__all__ = ["ignored_outcome", "page_size", "encode_cursor", "encode_snapshot_cursor", "cursor_data",
           "decode_cursor", "search_url", "paging_url"]


def page_size(ctx: ServerContext, raw: str | None) -> int:
    """_count as an int: the default when absent, capped at the maximum, 400 when not a number."""
    if raw is None:
        return ctx.settings.default_page_size
    if not raw.isdigit():
        raise InvalidRequest(f"_count '{raw}' is not a non-negative integer", expression="_count")
    return min(int(raw), ctx.settings.max_page_size)


def encode_cursor(keys: tuple[Any, ...], backward: bool) -> str:
    raw = orjson.dumps({"d": "p" if backward else "n", "k": list(keys)})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def encode_snapshot_cursor(snapshot_id: str, offset: int) -> str:
    raw = orjson.dumps({"s": snapshot_id, "o": offset})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_data(text: str) -> dict[str, Any]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, orjson.JSONDecodeError, ValueError):
        data = None
    if not isinstance(data, dict):
        raise InvalidRequest("_cursor is not valid for this server", expression="_cursor")
    return data


def decode_cursor(text: str) -> tuple[list[Any], bool]:
    data = cursor_data(text)
    try:
        return list(data["k"]), data["d"] == "p"
    except (KeyError, TypeError):
        raise InvalidRequest("_cursor is not valid for this server", expression="_cursor") from None


def search_url(base_url: str, path: str, params: list[tuple[str, str]]) -> str:
    """A type-level URL ([base]/[path]?...)."""
    query = urlencode(params)
    return f"{base_url}/{path}" + (f"?{query}" if query else "")


def paging_url(base_url: str, params: list[tuple[str, str]]) -> str:
    """A system-level URL ([base]?...)."""
    query = urlencode(params)
    return base_url + (f"?{query}" if query else "")


def ignored_outcome(resource_type: str, ignored: list[str]) -> list[BundleEntry]:
    """The searchset's ``outcome`` entry warning of parameters left out (none: no entry)."""
    if not ignored:
        return []
    issues = [{"severity": "warning", "code": "not-supported",
               "diagnostics": f"search parameter {name!r} is not supported for "
                              f"{resource_type} and was ignored (send 'Prefer: "
                              f"handling=strict' to have it refused)"}
              for name in dict.fromkeys(ignored)]
    outcome = {"resourceType": "OperationOutcome", "issue": issues}
    return [BundleEntry({"search": {"mode": "outcome"}}, orjson.dumps(outcome))]
