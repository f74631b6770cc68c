"""_history at instance, type and system level, paged newest first."""

from __future__ import annotations

from eolc_fhir.fhir.bundle import BundleEntry, assemble_bundle
from eolc_fhir.fhir.errors import InvalidRequest, NotFound
from eolc_fhir.fhir.instant import from_instant, to_instant
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.search.paging import page_size
from eolc_fhir.storage.model import StoredResource

__all__ = ["history"]

_STATUS = {"POST": "201 Created", "PUT": "200 OK", "DELETE": "204 No Content"}
_KNOWN = {"_count", "_since", "_cursor", "_format", "_pretty"}


def _entry(base_url: str, stored: StoredResource) -> BundleEntry:
    ref = f"{stored.resource_type}/{stored.id}"
    status = _STATUS.get(stored.method, "200 OK")
    if stored.method == "PUT" and stored.version == 1:
        status = "201 Created"
    fields = {
        "fullUrl": f"{base_url}/{ref}",
        "request": {
            "method": stored.method,
            "url": stored.resource_type if stored.method == "POST" else ref,
        },
        "response": {
            "status": status,
            "etag": f'W/"{stored.version}"',
            "lastModified": to_instant(stored.last_updated_us),
        },
    }
    return BundleEntry(fields, None if stored.deleted else stored.content)


def _since(params: dict[str, str]) -> int | None:
    value = params.get("_since")
    if value is None:
        return None
    try:
        return from_instant(value)
    except ValueError:
        raise InvalidRequest(f"_since '{value}' is not a valid instant",
                             expression="_since") from None


def _cursor(params: dict[str, str]) -> int | None:
    value = params.get("_cursor")
    if value is None:
        return None
    if not value.isdigit():
        raise InvalidRequest(f"_cursor '{value}' is not valid", expression="_cursor")
    return int(value)


async def history(ctx: ServerContext, params: list[tuple[str, str]], *, base_url: str,
                  path: str, resource_type: str | None = None,
                  resource_id: str | None = None) -> bytes:
    """A history Bundle; paging keys on the history sequence, so pages stay stable."""
    args = dict(params)
    unknown = sorted(set(args) - _KNOWN - {"_at"})
    if unknown:
        raise InvalidRequest(f"unsupported history parameter(s): {', '.join(unknown)}",
                             code="not-supported")
    count = page_size(ctx, args.get("_count"))
    since, cursor = _since(args), _cursor(args)
    async with ctx.db.unit_of_work(write=False) as uow:
        repo = uow.resources
        if resource_id is not None and resource_type is not None:
            if await repo.get_current(resource_type, resource_id) is None:
                raise NotFound(f"{resource_type}/{resource_id} is not known")
        rows = await repo.history(resource_type=resource_type, resource_id=resource_id,
                                  since_us=since, at_or_before_seq=cursor, limit=count + 1)
        total = None
        if cursor is None:  # the first page counts; later pages keep their snapshot
            total = await repo.history_count(resource_type=resource_type,
                                             resource_id=resource_id, since_us=since)
    links = [("self", _url(base_url, path, args))]
    if len(rows) > count:
        nxt = {**args, "_cursor": str(rows[count][0])}
        links.append(("next", _url(base_url, path, nxt)))
    entries = [_entry(base_url, stored) for _, stored in rows[:count]]
    return assemble_bundle("history", entries, total=total, links=links)


def _url(base_url: str, path: str, args: dict[str, str]) -> str:
    from urllib.parse import urlencode

    query = urlencode(args)
    return f"{base_url}/{path}" + (f"?{query}" if query else "")


