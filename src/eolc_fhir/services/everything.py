"""Patient/[id]/$everything (R4): the patient, their compartment and what it references, paged.

Semantics of http://hl7.org/fhir/R4/patient-operation-everything.html: the
Patient, every resource whose ``patient`` / ``subject`` reference points at
them, and the resources those reference (practitioners, organisations, care
teams: one level), as a ``searchset`` Bundle. ``_since`` (instant) keeps
resources changed at or after it (the Patient always stays); ``_type``
limits the types; ``_count`` sets the page size; pages follow ``next``
links (``_offset``) over a stable order: the Patient first, then by type and id.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson

from eolc_fhir.fhir.bundle import BundleEntry, assemble_bundle
from eolc_fhir.fhir.errors import InvalidRequest, NotFound
from eolc_fhir.fhir.instant import from_instant
from eolc_fhir.fhir.models import is_resource_type
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.search.paging import page_size
from eolc_fhir.storage.model import Row

__all__ = ["everything"]

_KNOWN = {"_since", "_type", "_count", "_offset", "start", "end", "_format", "_pretty"}


def _options(params: list[tuple[str, str]]) -> dict[str, str]:
    options: dict[str, str] = {}
    for name, value in params:
        if name not in _KNOWN:
            raise InvalidRequest(f"$everything does not support the parameter '{name}'",
                                 code="not-supported", expression=name)
        options[name] = value
    return options


def _types(raw: str | None) -> set[str] | None:
    if not raw:
        return None
    types = {t.strip() for t in raw.split(",") if t.strip()}
    unknown = [t for t in types if not is_resource_type(t)]
    if unknown:
        raise InvalidRequest(f"_type names unknown resource types: {', '.join(sorted(unknown))}",
                             expression="_type")
    return types


def _since(raw: str | None) -> int | None:
    if not raw:
        return None
    try:
        return from_instant(raw)
    except ValueError:
        raise InvalidRequest(f"_since '{raw}' is not an instant", expression="_since") from None


def _references(value: Any, out: list[tuple[str, str]]) -> None:
    """Every relative 'Type/id' reference anywhere in a decoded resource."""
    if isinstance(value, dict):
        target = value.get("reference")
        if isinstance(target, str) and target.count("/") == 1:
            rtype, rid = target.split("/")
            if is_resource_type(rtype):
                out.append((rtype, rid))
        for item in value.values():
            if isinstance(item, dict | list):
                _references(item, out)
    elif isinstance(value, list):
        for item in value:
            _references(item, out)


async def _gather(ctx: ServerContext, patient_id: str) -> list[Row]:
    rows = await ctx.db.compartment.fetch((), patient_ids=[patient_id])
    if not any(r.resource_type == "Patient" for r in rows):
        raise NotFound(f"Patient/{patient_id} is not known")
    have = {(r.resource_type, r.id) for r in rows}
    wanted: list[tuple[str, str]] = []
    for row in rows:
        _references(orjson.loads(row.content), wanted)
    missing = [k for k in dict.fromkeys(wanted) if k not in have]
    return rows + await ctx.db.compartment.get_many(missing)


async def everything(ctx: ServerContext, patient_id: str, params: list[tuple[str, str]], *,
                     base_url: str) -> bytes:
    options = _options(params)
    count = page_size(ctx, options.get("_count"))
    offset_raw = options.get("_offset", "0")
    if not offset_raw.isdigit():
        raise InvalidRequest("_offset must be a non-negative integer", expression="_offset")
    offset, types, since = int(offset_raw), _types(options.get("_type")), _since(
        options.get("_since"))
    rows = await _gather(ctx, patient_id)
    kept = [r for r in rows if (r.resource_type == "Patient" and r.id == patient_id) or (
        (types is None or r.resource_type in types)
        and (since is None or r.last_updated_us >= since))]
    kept.sort(key=lambda r: (not (r.resource_type == "Patient" and r.id == patient_id),
                             r.resource_type, r.id))
    page = kept[offset:offset + count] if count else []
    links = _links(f"{base_url}/Patient/{patient_id}/$everything", options, count, offset,
                   len(kept))
    entries = [BundleEntry({"fullUrl": f"{base_url}/{r.resource_type}/{r.id}",
                            "search": {"mode": "match" if r.resource_type != "Patient"
                                       or r.id == patient_id else "include"}}, r.content)
               for r in page]
    return assemble_bundle("searchset", entries, total=len(kept), links=links)


def _links(path: str, options: dict[str, str], count: int, offset: int,
           total: int) -> list[tuple[str, str]]:
    keep = [(k, v) for k, v in options.items() if k not in ("_offset", "_count")]

    def url(at: int) -> str:
        return f"{path}?{urlencode([*keep, ('_count', count), ('_offset', at)])}"

    links = [("self", url(offset))]
    if count and offset + count < total:
        links.append(("next", url(offset + count)))
    if count and offset > 0:
        links.append(("previous", url(max(0, offset - count))))
    return links
