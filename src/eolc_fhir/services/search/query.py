"""search-type, search-system and conditional matching: plan, run, splice a searchset."""

from __future__ import annotations

from typing import Any

from eolc_fhir.fhir.bundle import BundleEntry, assemble_bundle
from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.fhir.models import is_resource_type, not_r4_type
from eolc_fhir.search import ParsedSearch, SearchRegistry, parse_search
from eolc_fhir.search.subset import subset
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.search import audit_log
from eolc_fhir.services.search.includes import gather_includes
from eolc_fhir.services.search.paging import (
    cursor_data,
    decode_cursor,
    encode_cursor,
    encode_snapshot_cursor,
    ignored_outcome,
    search_url,
)
from eolc_fhir.services.search.practice_scope import narrow_to_practice
from eolc_fhir.services.search.snapshot import snapshot_page, take_snapshot, wants_snapshot
from eolc_fhir.services.search.system import run_system_search
from eolc_fhir.storage.model import PageRow
from eolc_fhir.storage.search_repo import IncludeLookups
from eolc_fhir.storage.unit_of_work import UnitOfWork

__all__ = ["search_type", "search_in", "search_system", "find_ids", "registry_of", "reindex",
           "encode_cursor", "decode_cursor", "encode_snapshot_cursor"]

_FIND_LIMIT = 100
_LEAN_MAX_COUNT = 100  # the lean path runs on the event loop: only for small pages


def registry_of(ctx: ServerContext) -> SearchRegistry:
    """The server's registry, loaded at start from its own profiles folder."""
    registry = ctx.search
    assert isinstance(registry, SearchRegistry), "the search registry is loaded at start"
    return registry


def _page_size(ctx: ServerContext) -> tuple[int, int]:
    return ctx.settings.default_page_size, ctx.settings.max_page_size


async def search_type(ctx: ServerContext, resource_type: str, params: list[tuple[str, str]], *,
                      lenient: bool = False, base_url: str) -> bytes:
    """GET/POST [type]?...: a searchset Bundle around the stored bytes."""
    if resource_type == audit_log.AUDIT_TYPE:  # the audit log has its own table and search
        return await audit_log.search(ctx, params, lenient=lenient, base_url=base_url)
    registry = registry_of(ctx)
    parsed = narrow_to_practice(registry, parse_search(
        registry, resource_type, params, lenient=lenient, base_url=base_url,
        page_size=_page_size(ctx)))
    if _is_lean(parsed):
        lean = ctx.db.search  # the storage picks the engine's lean path, if this query has one
        found = await lean.first_page(parsed.query, parsed.controls.count)
        if found is not None:
            # Includes of a small page are primary-key lookups: the same lean path serves them.
            return await _lean_bundle(lean, resource_type, parsed, base_url, found)
    async with ctx.db.unit_of_work(write=False) as uow:
        return await _run(uow, resource_type, parsed, base_url, ctx)


async def _lean_bundle(lookups: IncludeLookups, resource_type: str, parsed: ParsedSearch,
                       base_url: str, found: tuple[list[PageRow], bool]) -> bytes:
    page, more = found
    total = len(page) if not more and parsed.controls.total != "none" else None
    matches = [(resource_type, row.res_id, row.content) for row in page]
    included = await gather_includes(lookups, parsed.controls, matches)
    paging = _paging_links(base_url, resource_type, parsed, page, more, None, False)
    return _bundle(base_url, resource_type, parsed, page, total, included, paging)


def _is_lean(parsed: ParsedSearch) -> bool:
    """A first page, small enough for the lean paths (whether the query is selective
    enough for them, storage decides)."""
    controls = parsed.controls
    return (not controls.cursor and controls.summary != "count"
            and 0 < controls.count <= _LEAN_MAX_COUNT
            and controls.total not in ("accurate", "estimate"))


async def search_in(ctx: ServerContext, uow: UnitOfWork, resource_type: str,
                    params: list[tuple[str, str]], *, base_url: str,
                    lenient: bool = True) -> bytes:
    """The same search inside a caller's unit of work (batch GET entries)."""
    registry = registry_of(ctx)
    parsed = narrow_to_practice(registry, parse_search(
        registry, resource_type, params, lenient=lenient, base_url=base_url,
        page_size=_page_size(ctx)))
    return await _run(uow, resource_type, parsed, base_url)


async def _run(uow: UnitOfWork, resource_type: str, parsed: ParsedSearch, base_url: str,
               ctx: ServerContext | None = None) -> bytes:
    controls = parsed.controls
    search = uow.search
    if controls.summary == "count" or controls.count == 0:
        await search.prefer_custom_plans(parsed.query)
        matched = await search.count(parsed.query)
        links = [("self", search_url(base_url, resource_type, parsed.used))]
        outcome = ignored_outcome(resource_type, parsed.ignored)
        return assemble_bundle("searchset", outcome, total=matched, links=links)
    await search.prefer_custom_plans(parsed.query)
    data = cursor_data(controls.cursor) if controls.cursor else None
    if data is not None and "s" in data:
        return await _snapshot_run(uow, resource_type, parsed, base_url, data)
    cursor, backward = decode_cursor(controls.cursor) if controls.cursor else (None, False)
    page_found: tuple[list[PageRow], bool] | None = None
    if cursor is None:  # a first page: the engine may have its SQL compiled already
        page_found = await search.first_page(parsed.query, controls.count)
    if page_found is None:
        try:
            page_found = await search.page(parsed.query, count=controls.count, cursor=cursor,
                                           backward=backward)
        except ValueError as exc:  # a cursor from another search, or hand-edited
            raise InvalidRequest(f"_cursor does not fit this search: {exc}",
                                 expression="_cursor") from None
    page, more = page_found
    total = await _total(uow, parsed, page, more, cursor)
    matches = [(resource_type, row.res_id, row.content) for row in page]
    included = await gather_includes(search, controls, matches)
    links = _paging_links(base_url, resource_type, parsed, page, more, cursor, backward)
    if more and cursor is None and ctx is not None and wants_snapshot(parsed):
        snapshot_id = await take_snapshot(ctx, uow, parsed)
        if snapshot_id is not None:
            links = _snapshot_links(base_url, resource_type, parsed, snapshot_id, 0, True)
    return _bundle(base_url, resource_type, parsed, page, total, included, links)


async def _snapshot_run(uow: UnitOfWork, resource_type: str, parsed: ParsedSearch,
                        base_url: str, data: dict[str, Any]) -> bytes:
    snapshot_id, offset = str(data["s"]), data.get("o")
    if not isinstance(offset, int) or offset < 0:
        raise InvalidRequest("_cursor is not valid for this server", expression="_cursor")
    count = parsed.controls.count
    page, more = await snapshot_page(uow, snapshot_id, offset, count)
    total = await _total(uow, parsed, page, more, [offset])
    matches = [(resource_type, row.res_id, row.content) for row in page]
    included = await gather_includes(uow.search, parsed.controls, matches)
    links = _snapshot_links(base_url, resource_type, parsed, snapshot_id, offset, more)
    return _bundle(base_url, resource_type, parsed, page, total, included, links)


def _snapshot_links(base_url: str, path: str, parsed: ParsedSearch, snapshot_id: str,
                    offset: int, more: bool) -> list[tuple[str, str]]:
    count = parsed.controls.count
    plain = [(k, v) for k, v in parsed.used if k != "_cursor"]
    links = []
    if more:
        nxt = encode_snapshot_cursor(snapshot_id, offset + count)
        links.append(("next", search_url(base_url, path, [*plain, ("_cursor", nxt)])))
    if offset > 0:
        prev = encode_snapshot_cursor(snapshot_id, max(0, offset - count))
        links.append(("previous", search_url(base_url, path, [*plain, ("_cursor", prev)])))
    return links


def _bundle(base_url: str, resource_type: str, parsed: ParsedSearch, page: list[PageRow],
            total: int | None, included: list[tuple[str, str, bytes]],
            paging: list[tuple[str, str]]) -> bytes:
    links = [("self", search_url(base_url, resource_type, parsed.used)), *paging]
    entries = [_entry(base_url, resource_type, row.res_id, row.content, "match", parsed)
               for row in page]
    entries += [_entry(base_url, t, i, c, "include", parsed) for t, i, c in included]
    entries += ignored_outcome(resource_type, parsed.ignored)
    return assemble_bundle("searchset", entries, total=total, links=links)


async def _total(uow: UnitOfWork, parsed: ParsedSearch, page: list[PageRow],
                 more: bool, cursor: list[Any] | None) -> int | None:
    wanted = parsed.controls.total
    if wanted == "none":
        return None
    if wanted in ("accurate", "estimate"):
        return await uow.search.count(parsed.query)
    return len(page) if cursor is None and not more else None  # free when it all fits


def _entry(base_url: str, rtype: str, rid: str, content: bytes, mode: str,
           parsed: ParsedSearch) -> BundleEntry:
    body = subset(content, rtype, parsed.controls.summary, parsed.controls.elements)
    return BundleEntry({"fullUrl": f"{base_url}/{rtype}/{rid}", "search": {"mode": mode}}, body)


def _paging_links(base_url: str, path: str, parsed: ParsedSearch, page: list[PageRow],
                  more: bool, cursor: list[Any] | None,
                  backward: bool) -> list[tuple[str, str]]:
    if not page:
        return []
    plain = [(k, v) for k, v in parsed.used if k != "_cursor"]
    links = []
    if (more and not backward) or (backward and cursor is not None):
        nxt = encode_cursor(page[-1].keys, backward=False)
        links.append(("next", search_url(base_url, path, [*plain, ("_cursor", nxt)])))
    if (cursor is not None and not backward) or (backward and more):
        prev = encode_cursor(page[0].keys, backward=True)
        links.append(("previous", search_url(base_url, path, [*plain, ("_cursor", prev)])))
    return links


async def search_system(ctx: ServerContext, params: list[tuple[str, str]], *,
                        lenient: bool = False, base_url: str) -> bytes:
    """GET [base]?_type=A,B&...: the same search over several types, paged by (type, id)."""
    return await run_system_search(ctx, registry_of(ctx), params, lenient=lenient,
                                   base_url=base_url)


async def find_ids(uow: UnitOfWork, resource_type: str, params: list[tuple[str, str]], *,
                   registry: SearchRegistry) -> list[str]:
    """Ids of current resources matching every parameter (conditional create/update/delete)."""
    if not params:
        raise InvalidRequest("a conditional request needs search parameters")
    if not is_resource_type(resource_type):
        raise InvalidRequest(not_r4_type(resource_type), code="not-supported")
    parsed = parse_search(registry, resource_type, params)
    await uow.search.prefer_custom_plans(parsed.query)
    return sorted(await uow.search.match_ids(parsed.query, _FIND_LIMIT))


async def reindex(ctx: ServerContext, resource_types: list[str] | None = None, *,
                  batch: int = 500) -> int:
    """Rebuild the index rows of every current resource (after adding a search parameter).

    Works in batches, one transaction each, so a large store never holds one long
    write lock; returns how many resources were re-indexed.
    """
    return await ctx.db.reindex(registry_of(ctx).extract, resource_types, batch=batch)
