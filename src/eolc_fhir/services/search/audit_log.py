"""The audit log read as FHIR: ``GET AuditEvent/[id]`` and ``GET AuditEvent?...``.

AuditEvents are not stored as resources: each is built from its audit record
(security/audit.logged_event), with ``id`` the record's place in the log and
``meta.versionId`` "1" (a record never changes). Searches run on the log's own
table and references (storage/audit_repo.py), newest first, and page by keyset
on the record id (``_cursor``), so a page is stable while the log grows.

Search parameters: ``patient``, ``entity`` (a reference; a version is ignored),
``agent`` (``Device/<client id>`` or the bare client id), ``altid`` (client id,
as a token), ``date`` (prefixes eq ge le gt lt), ``type``, ``subtype``,
``action``, ``outcome``; controls ``_count``, ``_sort`` (``-date`` only, the
default), ``_summary=count``. Anything else is ignored unless
``Prefer: handling=strict`` (then a 400). Reading the log is itself audited by the
middleware like every search (one record per page read, naming the patients
on it; that record is not read back in the same request, so there is no loop).
"""

from __future__ import annotations

from typing import Any

import orjson

from eolc_fhir.fhir.errors import InvalidRequest, NotFound
from eolc_fhir.search.values import DateFormatError, date_range
from eolc_fhir.security.audit import SEARCH_PARAMS, SUBTYPES, AuditRecord, logged_event
from eolc_fhir.security.compartment import patients_named
from eolc_fhir.security.principal import current
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.search.paging import page_size, search_url
from eolc_fhir.storage.audit_repo import SHARED_TYPES, AuditQuery, ref_key
from eolc_fhir.storage.model import StoredResource
from eolc_fhir.storage.unit_of_work import UnitOfWork

__all__ = ["AUDIT_TYPE", "SEARCH_PARAMS", "read", "search"]

AUDIT_TYPE = "AuditEvent"
_IGNORED = ("_format", "_pretty")
_OUTCOMES = {"0": (0, 400), "4": (400, 500), "8": (500, 1000)}
_VERSIONS = 1000  # of one resource, read to find whom it has been about
_INTERACTIONS_OF: dict[str, list[str]] = {}
for _interaction, _code in SUBTYPES.items():
    _INTERACTIONS_OF.setdefault(_code, []).append(_interaction)


async def read(ctx: ServerContext, audit_id: str) -> StoredResource:
    record = None
    if audit_id.isdigit() and len(audit_id) < 19:
        async with ctx.db.unit_of_work(write=False) as uow:
            record = await uow.audit.get(int(audit_id))
    if record is None:
        raise NotFound(f"AuditEvent/{audit_id} is not known")
    _name_for_audit([record])
    return StoredResource(AUDIT_TYPE, audit_id, 1, record.recorded_us, False,
                          orjson.dumps(logged_event(record)))


async def search(ctx: ServerContext, params: list[tuple[str, str]], *, lenient: bool,
                 base_url: str) -> bytes:
    """A searchset Bundle of the matching AuditEvents, newest first."""
    query, count_only, kept = _parse(ctx, params, lenient)
    async with ctx.db.unit_of_work(write=False) as uow:
        await _through_patients(uow, query)
        if count_only:
            total = await uow.audit.count(query)
            return orjson.dumps({"resourceType": "Bundle", "type": "searchset", "total": total,
                                 "link": [_link("self", base_url, kept)]})
        found = await uow.audit.search(query) if query.limit > 0 else []
    more = len(found) > query.limit
    page = found[:query.limit]
    _name_for_audit(page)
    links = [_link("self", base_url, kept + _cursor(query.before_id))]
    if more and page:
        links.append(_link("next", base_url, kept + _cursor(page[-1].id)))
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if not more and query.before_id is None:
        bundle["total"] = len(page)
    bundle["link"] = links
    bundle["entry"] = [{"fullUrl": f"{base_url}/{AUDIT_TYPE}/{r.id}",
                        "resource": logged_event(r), "search": {"mode": "match"}}
                       for r in page]
    return orjson.dumps(bundle)


def _name_for_audit(records: list[AuditRecord]) -> None:
    """The request reading the log is audited too: name what it read (no body parsing)."""
    rc = current.get()
    if rc is not None:
        rc.resources = [f"{AUDIT_TYPE}/{r.id}" for r in records]
        rc.patients = list(dict.fromkeys(p for r in records for p in r.patients))


def _cursor(before_id: int | None) -> list[tuple[str, str]]:
    return [("_cursor", str(before_id))] if before_id is not None else []


def _link(relation: str, base_url: str, params: list[tuple[str, str]]) -> dict[str, str]:
    return {"relation": relation, "url": search_url(base_url, AUDIT_TYPE, params)}


def _parse(ctx: ServerContext, params: list[tuple[str, str]],
           lenient: bool) -> tuple[AuditQuery, bool, list[tuple[str, str]]]:
    """The query, whether only a count is wanted, and the parameters a link repeats."""
    query = AuditQuery(limit=page_size(ctx, None))
    kept: list[tuple[str, str]] = []
    count_only = False
    for name, value in params:
        if name in _IGNORED:
            continue
        if name == "_count":
            query.limit = page_size(ctx, value)
        elif name == "_cursor":
            if not value.isdigit():
                raise InvalidRequest("_cursor is not valid for this server", expression=name)
            query.before_id = int(value)
            continue  # links carry their own
        elif name == "_sort":
            if value != "-date":
                raise InvalidRequest("AuditEvent searches sort by -date (newest first) only",
                                     code="not-supported", expression=name)
        elif name == "_summary" and value == "count":
            count_only = True
        elif name in SEARCH_PARAMS:
            _add(query, name, [v.strip() for v in value.split(",") if v.strip()])
        elif lenient:
            continue
        else:
            raise InvalidRequest(f"unknown search parameter '{name}' for AuditEvent",
                                 code="not-supported", expression=name)
        kept.append((name, value))
    return query, count_only, kept


async def _through_patients(uow: UnitOfWork, query: AuditQuery) -> None:
    """For each resource asked for (``entity``), the people it has ever been about (every
    stored version's ``patient`` / ``subject``): a $wishes record names such resources
    without indexing them, and is found through its people (storage/audit_repo.audit_refs).
    """
    wanted = {ref for any_of in query.refs for ref in any_of
              if ref.split("/", 1)[0] not in SHARED_TYPES and "/" in ref}
    for ref in sorted(wanted):
        rtype, rid = ref.split("/", 1)
        versions = await uow.resources.history(resource_type=rtype, resource_id=rid,
                                               limit=_VERSIONS)
        people = {p for _, stored in versions if stored.content is not None
                  for p in patients_named(orjson.loads(stored.content))}
        if people:
            query.via[ref] = [f"Patient/{p}" for p in sorted(people)]


def _add(query: AuditQuery, name: str, values: list[str]) -> None:
    if not values:
        raise InvalidRequest(f"search parameter '{name}' has no value", expression=name)
    if name == "patient":
        query.refs.append([f"Patient/{_tail(v, 'Patient')}" for v in values])
    elif name == "entity":
        query.refs.append([ref_key(_relative(v)) for v in values])
    elif name in ("agent", "altid"):
        clients = [_tail(v, "Device") if name == "agent" else v.rpartition("|")[2]
                   for v in values]
        query.clients = _narrowed(query.clients, clients)
    elif name == "date":
        for value in values[:1]:  # an OR of date ranges is not offered
            query.dates += _date(value)
    elif name == "type":
        if not any(v.rpartition("|")[2] == "rest" for v in values):
            query.clients = []  # every record is of type rest: nothing else matches
    elif name == "subtype":
        codes = [v.rpartition("|")[2] for v in values]
        query.interactions = _narrowed(query.interactions, [
            i for c in codes for i in (_INTERACTIONS_OF.get(c) or [c])])
    elif name == "action":
        query.actions = _narrowed(query.actions, [v.rpartition("|")[2] for v in values])
    elif name == "outcome":
        ranges = [_OUTCOMES[c] for v in values if (c := v.rpartition("|")[2]) in _OUTCOMES]
        query.statuses = ranges if query.statuses is None else \
            [r for r in query.statuses if r in ranges]


def _narrowed(before: list[str] | None, values: list[str]) -> list[str]:
    return values if before is None else [v for v in before if v in values]


def _relative(value: str) -> str:
    """``http://host/fhir/CarePlan/1`` → ``CarePlan/1`` (the last two or four segments)."""
    parts = value.rstrip("/").split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        return "/".join(parts[-4:])
    return "/".join(parts[-2:])


def _tail(value: str, rtype: str) -> str:
    relative = _relative(value)
    head, _, rid = relative.rpartition("/")
    if head and head != rtype:
        raise InvalidRequest(f"expected a reference to {rtype}, not '{value}'")
    return rid


def _date(value: str) -> list[tuple[str, int]]:
    prefix = value[:2] if value[:2] in ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb",
                                        "ap") else ""
    try:
        low, high = date_range(value[len(prefix):])
    except DateFormatError:
        raise InvalidRequest(f"'{value}' is not a date", code="value",
                             expression="date") from None
    if prefix in ("", "eq"):
        return [("ge", low), ("le", high)]
    if prefix in ("gt", "sa"):
        return [("gt", high)]
    if prefix == "ge":
        return [("ge", low)]
    if prefix in ("lt", "eb"):
        return [("lt", low)]
    if prefix == "le":
        return [("le", high)]
    raise InvalidRequest(f"date prefix '{prefix}' is not supported on AuditEvent",
                         code="not-supported", expression="date")
