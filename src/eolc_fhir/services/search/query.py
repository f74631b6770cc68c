"""search-type, search-system and conditional matching: plan, run, splice a searchset."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlencode

import orjson

from eolc_fhir.fhir.bundle import BundleEntry, assemble_bundle
from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.fhir.models import is_resource_type
from eolc_fhir.search import ParsedSearch, SearchRegistry, parse_search
from eolc_fhir.search.subset import subset
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.search.includes import gather_includes
from eolc_fhir.services.search.snapshot import snapshot_page, take_snapshot, wants_snapshot
from eolc_fhir.storage.search_fast import (
    PgSearchReader,
    PreparedSearches,
    SqliteReader,
    driver_page,
)
from eolc_fhir.storage.search_sql import (
    LOOKUP_RANK,
    PageRow,
    Rows,
    count_matches,
    lookup_rank,
    match_ids,
    prefer_custom_plans,
    reindex_all,
    rows_of,
    search_page,
    wants_custom_plan,
)
from eolc_fhir.storage.unit_of_work import UnitOfWork

__all__ = ["search_type", "search_in", "search_system", "find_ids", "registry_of", "reindex"]

_FIND_LIMIT = 100
_READER = "search.sqlite_reader"
_PG_READER = "search.pg_reader"
_LEAN_MAX_COUNT = 100  # the lean path runs on the event loop: only for small pages
# Compiled lookups per dialect name; the SQL text depends only on the dialect.
_PREPARED: dict[str, PreparedSearches] = {}


def registry_of(ctx: ServerContext) -> SearchRegistry:
    """The server's registry, loaded at start from its own profiles folder."""
    registry = ctx.search
    assert isinstance(registry, SearchRegistry), "the search registry is loaded at start"
    return registry


def _page_size(ctx: ServerContext) -> tuple[int, int]:
    return ctx.settings.default_page_size, ctx.settings.max_page_size


def encode_cursor(keys: tuple[Any, ...], backward: bool) -> str:
    raw = orjson.dumps({"d": "p" if backward else "n", "k": list(keys)})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def encode_snapshot_cursor(snapshot_id: str, offset: int) -> str:
    raw = orjson.dumps({"s": snapshot_id, "o": offset})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_data(text: str) -> dict[str, Any]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, orjson.JSONDecodeError, ValueError):
        data = None
    if not isinstance(data, dict):
        raise InvalidRequest("_cursor is not valid for this server", expression="_cursor")
    return data


def decode_cursor(text: str) -> tuple[list[Any], bool]:
    data = _cursor_data(text)
    try:
        return list(data["k"]), data["d"] == "p"
    except (KeyError, TypeError):
        raise InvalidRequest("_cursor is not valid for this server", expression="_cursor") from None


async def search_type(ctx: ServerContext, resource_type: str, params: list[tuple[str, str]], *,
                      lenient: bool = False, base_url: str) -> bytes:
    """GET/POST [type]?...: a searchset Bundle around the stored bytes."""
    parsed = parse_search(registry_of(ctx), resource_type, params, lenient=lenient,
                          base_url=base_url, page_size=_page_size(ctx))
    fast = _sqlite_lookup(ctx, parsed)
    if fast is not None and parsed.controls.total not in ("accurate", "estimate"):
        # Includes of a small page are primary-key lookups: the same lean reader serves them.
        return await _lean_bundle(ctx.extras[_READER].rows, resource_type, parsed, base_url,
                                  fast)
    if fast is None and _is_lean(ctx.db.dialect, parsed) and \
            not wants_custom_plan(parsed.query):
        pg = _pg_reader(ctx)
        found = None if pg is None else await pg.page(parsed.query, parsed.controls.count)
        if pg is not None and found is not None:
            return await _lean_bundle(pg.rows, resource_type, parsed, base_url, found)
    async with ctx.db.unit_of_work(write=False) as uow:
        return await _run(uow, resource_type, parsed, base_url, fast, ctx)


async def _lean_bundle(run: Rows, resource_type: str, parsed: ParsedSearch, base_url: str,
                       found: tuple[list[PageRow], bool]) -> bytes:
    page, more = found
    total = len(page) if not more and parsed.controls.total != "none" else None
    matches = [(resource_type, row.res_id, row.content) for row in page]
    included = await gather_includes(run, parsed.controls, matches)
    paging = _paging_links(base_url, resource_type, parsed, page, more, None, False)
    return _bundle(base_url, resource_type, parsed, page, total, included, paging)


def _is_lean(dialect: str, parsed: ParsedSearch) -> bool:
    """A first page of a selective lookup, small enough for the lean paths."""
    controls = parsed.controls
    return (dialect in ("sqlite", "postgresql") and not controls.cursor
            and controls.summary != "count" and 0 < controls.count <= _LEAN_MAX_COUNT
            and controls.total not in ("accurate", "estimate")
            and lookup_rank(parsed.query) <= LOOKUP_RANK)


def _prepared(conn: Any) -> PreparedSearches:
    name = conn.dialect.name
    if name not in _PREPARED:
        _PREPARED[name] = PreparedSearches(conn.dialect)
    return _PREPARED[name]


async def search_in(ctx: ServerContext, uow: UnitOfWork, resource_type: str,
                    params: list[tuple[str, str]], *, base_url: str,
                    lenient: bool = False) -> bytes:
    """The same search inside a caller's unit of work (batch GET entries)."""
    parsed = parse_search(registry_of(ctx), resource_type, params, lenient=lenient,
                          base_url=base_url, page_size=_page_size(ctx))
    return await _run(uow, resource_type, parsed, base_url, None)


def _pg_reader(ctx: ServerContext) -> PgSearchReader | None:
    if ctx.db.pg is None:
        return None
    reader: PgSearchReader | None = ctx.extras.get(_PG_READER)
    if reader is None or reader.db is not ctx.db:
        reader = ctx.extras[_PG_READER] = PgSearchReader(ctx.db)
    return reader


def _sqlite_lookup(ctx: ServerContext,
                   parsed: ParsedSearch) -> tuple[list[PageRow], bool] | None:
    """First pages of selective equality lookups, straight from the SQLite file."""
    if ctx.db.dialect != "sqlite" or not _is_lean("sqlite", parsed):
        return None
    reader = ctx.extras.get(_READER)
    if reader is None:
        reader = ctx.extras[_READER] = SqliteReader(ctx.db)
    if not reader.usable:
        return None
    found: tuple[list[PageRow], bool] | None = reader.page(parsed.query, parsed.controls.count)
    return found


async def _first_page(uow: UnitOfWork, parsed: ParsedSearch) -> tuple[list[PageRow], bool] | None:
    if uow.dialect != "postgresql" or parsed.controls.cursor:
        return None
    return await driver_page(uow.connection, _prepared(uow.connection), parsed.query,
                             parsed.controls.count)


async def _run(uow: UnitOfWork, resource_type: str, parsed: ParsedSearch, base_url: str,
               page_found: tuple[list[PageRow], bool] | None,
               ctx: ServerContext | None = None) -> bytes:
    controls = parsed.controls
    conn, dialect = uow.connection, uow.dialect
    if controls.summary == "count" or controls.count == 0:
        await prefer_custom_plans(conn, dialect, parsed.query)
        matched = await count_matches(conn, dialect, parsed.query)
        links = [("self", _url(base_url, resource_type, parsed.used))]
        return assemble_bundle("searchset", [], total=matched, links=links)
    await prefer_custom_plans(conn, dialect, parsed.query)
    data = _cursor_data(controls.cursor) if controls.cursor else None
    if data is not None and "s" in data:
        return await _snapshot_run(uow, resource_type, parsed, base_url, data)
    cursor, backward = decode_cursor(controls.cursor) if controls.cursor else (None, False)
    if page_found is None:
        page_found = await _first_page(uow, parsed)
    if page_found is None:
        try:
            page_found = await search_page(conn, dialect, parsed.query, count=controls.count,
                                           cursor=cursor, backward=backward)
        except ValueError as exc:  # a cursor from another search, or hand-edited
            raise InvalidRequest(f"_cursor does not fit this search: {exc}",
                                 expression="_cursor") from None
    page, more = page_found
    total = await _total(conn, dialect, parsed, page, more, cursor)
    matches = [(resource_type, row.res_id, row.content) for row in page]
    included = await gather_includes(rows_of(conn), controls, matches)
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
    total = await _total(uow.connection, uow.dialect, parsed, page, more, [offset])
    matches = [(resource_type, row.res_id, row.content) for row in page]
    included = await gather_includes(rows_of(uow.connection), parsed.controls, matches)
    links = _snapshot_links(base_url, resource_type, parsed, snapshot_id, offset, more)
    return _bundle(base_url, resource_type, parsed, page, total, included, links)


def _snapshot_links(base_url: str, path: str, parsed: ParsedSearch, snapshot_id: str,
                    offset: int, more: bool) -> list[tuple[str, str]]:
    count = parsed.controls.count
    plain = [(k, v) for k, v in parsed.used if k != "_cursor"]
    links = []
    if more:
        nxt = encode_snapshot_cursor(snapshot_id, offset + count)
        links.append(("next", _url(base_url, path, [*plain, ("_cursor", nxt)])))
    if offset > 0:
        prev = encode_snapshot_cursor(snapshot_id, max(0, offset - count))
        links.append(("previous", _url(base_url, path, [*plain, ("_cursor", prev)])))
    return links


def _bundle(base_url: str, resource_type: str, parsed: ParsedSearch, page: list[PageRow],
            total: int | None, included: list[tuple[str, str, bytes]],
            paging: list[tuple[str, str]]) -> bytes:
    links = [("self", _url(base_url, resource_type, parsed.used)), *paging]
    entries = [_entry(base_url, resource_type, row.res_id, row.content, "match", parsed)
               for row in page]
    entries += [_entry(base_url, t, i, c, "include", parsed) for t, i, c in included]
    return assemble_bundle("searchset", entries, total=total, links=links)


async def _total(conn: Any, dialect: str, parsed: ParsedSearch, page: list[PageRow],
                 more: bool, cursor: list[Any] | None) -> int | None:
    wanted = parsed.controls.total
    if wanted == "none":
        return None
    if wanted in ("accurate", "estimate"):
        return await count_matches(conn, dialect, parsed.query)
    return len(page) if cursor is None and not more else None  # free when it all fits


def _entry(base_url: str, rtype: str, rid: str, content: bytes, mode: str,
           parsed: ParsedSearch) -> BundleEntry:
    body = subset(content, rtype, parsed.controls.summary, parsed.controls.elements)
    return BundleEntry({"fullUrl": f"{base_url}/{rtype}/{rid}", "search": {"mode": mode}}, body)


def _url(base_url: str, path: str, params: list[tuple[str, str]]) -> str:
    query = urlencode(params)
    return f"{base_url}/{path}" + (f"?{query}" if query else "")


def _paging_url(base_url: str, params: list[tuple[str, str]]) -> str:
    """A system-level URL ([base]?...)."""
    query = urlencode(params)
    return base_url + (f"?{query}" if query else "")


def _paging_links(base_url: str, path: str, parsed: ParsedSearch, page: list[PageRow],
                  more: bool, cursor: list[Any] | None,
                  backward: bool) -> list[tuple[str, str]]:
    if not page:
        return []
    plain = [(k, v) for k, v in parsed.used if k != "_cursor"]
    links = []
    if (more and not backward) or (backward and cursor is not None):
        nxt = encode_cursor(page[-1].keys, backward=False)
        links.append(("next", _url(base_url, path, [*plain, ("_cursor", nxt)])))
    if (cursor is not None and not backward) or (backward and more):
        prev = encode_cursor(page[0].keys, backward=True)
        links.append(("previous", _url(base_url, path, [*plain, ("_cursor", prev)])))
    return links


async def search_system(ctx: ServerContext, params: list[tuple[str, str]], *,
                        lenient: bool = False, base_url: str) -> bytes:
    """GET [base]?_type=A,B&...: the same search over several types, paged by (type, id)."""
    from eolc_fhir.services.search.system import run_system_search

    return await run_system_search(ctx, registry_of(ctx), params, lenient=lenient,
                                   base_url=base_url)


async def find_ids(uow: UnitOfWork, resource_type: str, params: list[tuple[str, str]], *,
                   registry: SearchRegistry) -> list[str]:
    """Ids of current resources matching every parameter (conditional create/update/delete)."""
    if not params:
        raise InvalidRequest("a conditional request needs search parameters")
    if not is_resource_type(resource_type):
        raise InvalidRequest(f"'{resource_type}' is not a resource type", code="not-supported")
    parsed = parse_search(registry, resource_type, params)
    await prefer_custom_plans(uow.connection, uow.dialect, parsed.query)
    return sorted(await match_ids(uow.connection, uow.dialect, parsed.query, _FIND_LIMIT))


async def reindex(ctx: ServerContext, resource_types: list[str] | None = None, *,
                  batch: int = 500) -> int:
    """Rebuild the index rows of every current resource (after adding a search parameter).

    Works in batches, one transaction each, so a large store never holds one long
    write lock; returns how many resources were re-indexed.
    """
    return await reindex_all(ctx.db, registry_of(ctx).extract, resource_types, batch=batch)
