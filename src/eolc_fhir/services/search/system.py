"""System-level search (GET [base]?_type=...): one search per type, merged by (type, id)."""

from __future__ import annotations

from typing import Any

from eolc_fhir.fhir.bundle import BundleEntry, assemble_bundle
from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.fhir.models import is_resource_type
from eolc_fhir.search import ParsedSearch, SearchRegistry, parse_search
from eolc_fhir.search.subset import subset
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.search.includes import gather_includes
from eolc_fhir.services.search.paging import (
    decode_cursor,
    encode_cursor,
    ignored_outcome,
    paging_url,
)

__all__ = ["run_system_search"]


def _types(params: list[tuple[str, str]]) -> list[str]:
    raw = [v for k, v in params if k == "_type"]
    if not raw:
        raise InvalidRequest("system search needs _type (e.g. _type=Patient,Flag)",
                             code="not-supported", expression="_type")
    types = sorted({t.strip() for value in raw for t in value.split(",") if t.strip()})
    bad = [t for t in types if not is_resource_type(t)]
    if bad:
        raise InvalidRequest(f"not R4 resource type(s) in _type: {', '.join(bad)}",
                             expression="_type")
    return types


async def run_system_search(ctx: ServerContext, registry: SearchRegistry,
                            params: list[tuple[str, str]], *, lenient: bool,
                            base_url: str) -> bytes:
    types = _types(params)
    if any(k.split(":")[0] == "_sort" for k, _ in params):
        raise InvalidRequest("_sort is not supported in system search", code="not-supported")
    size = (ctx.settings.default_page_size, ctx.settings.max_page_size)
    plans = {t: parse_search(registry, t, params, lenient=lenient, base_url=base_url,
                             page_size=size) for t in types}
    _check_common(plans)
    first = plans[types[0]]
    controls = first.controls
    links = [("self", paging_url(base_url, first.used))]
    cursor = decode_cursor(controls.cursor)[0] if controls.cursor else None
    rows: list[tuple[str, str, bytes]] = []
    total = 0
    async with ctx.db.unit_of_work(write=False) as uow:
        search = uow.search
        await search.prefer_custom_plans(first.query)
        for rtype in types:
            query = plans[rtype].query
            if controls.total in ("accurate", "estimate") or controls.summary == "count":
                total += await search.count(query)
            if controls.summary == "count" or len(rows) > controls.count:
                continue
            if cursor is not None and rtype < cursor[0]:
                continue
            after = [cursor[1]] if cursor is not None and rtype == cursor[0] else None
            page, _ = await search.page(query, count=controls.count + 1 - len(rows),
                                        cursor=after)
            rows += [(rtype, r.res_id, r.content) for r in page]
        more = len(rows) > controls.count
        rows = rows[: controls.count]
        included = await gather_includes(search, controls, rows)
    if more:
        nxt = encode_cursor((rows[-1][0], rows[-1][1]), backward=False)
        plain = [(k, v) for k, v in first.used if k != "_cursor"]
        links.append(("next", paging_url(base_url, [*plain, ("_cursor", nxt)])))
    entries = [_entry(base_url, t, i, c, "match", controls) for t, i, c in rows]
    entries += [_entry(base_url, t, i, c, "include", controls) for t, i, c in included]
    counted = controls.total in ("accurate", "estimate") or controls.summary == "count"
    if controls.summary == "count":
        entries = []
    entries += ignored_outcome(",".join(types), first.ignored)
    return assemble_bundle("searchset", entries, total=total if counted else None, links=links)


def _check_common(plans: dict[str, ParsedSearch]) -> None:
    """A parameter ignored for some of the types but applied to others would return every
    resource of the former: a 400, whatever the handling preference."""
    ignored = {t: set(p.ignored) for t, p in plans.items()}
    everywhere = set.intersection(*ignored.values())
    for rtype, names in ignored.items():
        partial = sorted(names - everywhere)
        if partial:
            raise InvalidRequest(f"search parameter(s) {', '.join(partial)} are not defined "
                                 f"for {rtype}; a search over several types takes parameters "
                                 "common to all of them", code="not-supported")


def _entry(base_url: str, rtype: str, rid: str, content: bytes, mode: str,
           controls: Any) -> BundleEntry:
    body = subset(content, rtype, controls.summary, controls.elements)
    return BundleEntry({"fullUrl": f"{base_url}/{rtype}/{rid}", "search": {"mode": mode}}, body)
