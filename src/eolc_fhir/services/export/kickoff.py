"""The kick-off request: check it, authorize it, store the job and answer with its status URL.

Parameters of Bulk Data Access v2 that this server supports: ``_outputFormat``
(NDJSON under any of its three names), ``_type``, ``_since`` and ``_typeFilter``
(FHIR search queries, planned by the search engine like any search). Anything
else, or a value it cannot honour, is a 400 naming the parameter, or, under
``Prefer: handling=lenient``, ignored and reported as a warning. The client
needs the ``export`` operation for its role and read access to every type it
names; types it may not read are left out of an export that names none (and
listed in the manifest's ``error``).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

import orjson

from eolc_fhir.fhir.errors import Forbidden, InvalidRequest, NotFound, TooManyRequests
from eolc_fhir.fhir.instant import from_instant, now_us
from eolc_fhir.fhir.models import is_resource_type
from eolc_fhir.search.controls import RESULT_PARAMS
from eolc_fhir.search.parse import parse_search
from eolc_fhir.security.policy import allowed
from eolc_fhir.security.principal import Principal, current_principal
from eolc_fhir.security.roles import operation_allows
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.export.spec import GROUP, ExportSpec
from eolc_fhir.storage.export_repo import ACCEPTED, ExportJob

__all__ = ["KickOff", "kick_off", "STATUS_PATH", "FORMATS"]

STATUS_PATH = "/_export"
FORMATS = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})
_FILTER_START = re.compile(r",(?=[A-Z][A-Za-z]+\?)")  # a comma that starts another Type?query


@dataclass
class KickOff:
    """The accepted job: where to poll, what was ignored, whom the request is about."""

    job_id: str
    status_url: str
    warnings: list[str] = field(default_factory=list)
    patients: list[str] = field(default_factory=list)


def _preferences(prefer: str) -> set[str]:
    return {p.strip().replace(" ", "").lower() for p in re.split(r"[,;]", prefer) if p.strip()}


async def kick_off(ctx: ServerContext, level: str, params: list[tuple[str, str]], *,
                   prefer: str, base_url: str, request_url: str,
                   group_id: str | None = None) -> KickOff:
    """Accept an export (raises 400/403/404/429 as FHIR errors); the job runs later."""
    preferences = _preferences(prefer)
    if "respond-async" not in preferences:
        raise InvalidRequest("$export answers asynchronously: send the header "
                             "'Prefer: respond-async'", expression="Prefer")
    principal = current_principal()
    if principal is not None and not operation_allows(principal.role, "export"):
        raise Forbidden(f"the role '{principal.role}' may not use $export")
    spec = _parse(ctx, level, params, lenient="handling=lenient" in preferences,
                  base_url=base_url)
    _check_types(principal, spec)
    if level == GROUP:
        assert group_id is not None
        spec.group_id, spec.patients = group_id, await _members(ctx, group_id)
    if principal is not None:
        spec.client_id, spec.ods, spec.role = principal.client_id, principal.ods, principal.role
        spec.scopes = str(principal.grants)
    job = ExportJob(job_id=uuid.uuid4().hex, client_id=spec.client_id or "", status=ACCEPTED,
                    request=request_url, spec=spec.dumps(), created_us=now_us())
    async with ctx.db.unit_of_work() as uow:
        if principal is not None and await uow.exports.pending_count(
                principal.client_id) >= ctx.settings.export_max_pending:
            raise TooManyRequests("this client already has as many unfinished exports as it "
                                  "may: wait for one to finish, or cancel one (DELETE its "
                                  "status URL)", headers={"Retry-After": "30"})
        await uow.exports.add(job)
    if ctx.exports is not None:
        ctx.exports.wake()
    return KickOff(job.job_id, f"{base_url}{STATUS_PATH}/{job.job_id}", spec.warnings,
                   spec.patients or [])


def _parse(ctx: ServerContext, level: str, params: list[tuple[str, str]], *, lenient: bool,
           base_url: str) -> ExportSpec:
    spec = ExportSpec(level=level, base_url=base_url)
    filters: list[str] = []
    for name, value in params:
        if name == "_outputFormat":
            _output_format(value, spec, lenient)
        elif name == "_since":
            spec.since_us = _since(value)
        elif name == "_type":
            _types(value, spec, lenient)
        elif name == "_typeFilter":
            filters += [f for f in _FILTER_START.split(value) if f.strip()]
        elif lenient:
            spec.warnings.append(f"the parameter '{name}' is not supported and was ignored")
        else:
            raise InvalidRequest(f"$export does not support the parameter '{name}' (send "
                                 "'Prefer: handling=lenient' to have it ignored)",
                                 code="not-supported", expression=name)
    for text in filters:
        _type_filter(ctx, text, spec, lenient, base_url)
    return spec


def _output_format(value: str, spec: ExportSpec, lenient: bool) -> None:
    if value.strip().lower() in FORMATS:
        return
    if not lenient:
        raise InvalidRequest(f"_outputFormat '{value}' is not supported: this server writes "
                             "application/fhir+ndjson", code="not-supported",
                             expression="_outputFormat")
    spec.warnings.append(f"_outputFormat '{value}' is not supported: "
                         "application/fhir+ndjson was written instead")


def _since(value: str) -> int:
    try:
        return from_instant(value)
    except ValueError:
        raise InvalidRequest(f"_since '{value}' is not an instant (e.g. "
                             "2026-01-01T00:00:00Z)", expression="_since") from None


def _types(value: str, spec: ExportSpec, lenient: bool) -> None:
    names = [t.strip() for t in value.split(",") if t.strip()]
    unknown = [t for t in names if not is_resource_type(t)]
    if unknown and not lenient:
        raise InvalidRequest(f"_type names types this server does not know: "
                             f"{', '.join(unknown)}", code="not-supported", expression="_type")
    spec.warnings += [f"_type '{t}' is not a resource type and was ignored" for t in unknown]
    spec.types = list(dict.fromkeys([*(spec.types or []), *(t for t in names
                                                             if t not in unknown)]))


def _type_filter(ctx: ServerContext, text: str, spec: ExportSpec, lenient: bool,
                 base_url: str) -> None:
    rtype, sep, query = text.partition("?")
    problem = None
    if not sep or not is_resource_type(rtype):
        problem = f"_typeFilter '{text}' is not [type]?[search parameters]"
    elif spec.types is not None and rtype not in spec.types:
        problem = f"_typeFilter '{text}' is for a type that _type leaves out"
    if problem is None:
        problem = _check_query(ctx, rtype, query, base_url)
    if problem is None:
        spec.type_filters.append((rtype, query))
    elif lenient:
        spec.warnings.append(f"{problem}; it was ignored")
    else:
        raise InvalidRequest(problem, code="not-supported" if "supported" in problem
                             else "invalid", expression="_typeFilter")


def _check_query(ctx: ServerContext, rtype: str, query: str, base_url: str) -> str | None:
    from urllib.parse import parse_qsl

    pairs = parse_qsl(query, keep_blank_values=True)
    controls = [n for n, _ in pairs if n.split(":")[0] in RESULT_PARAMS]
    if controls or not pairs:
        return (f"_typeFilter for {rtype} must hold search parameters only "
                f"(not {', '.join(controls) or 'nothing'}): is not supported")
    try:
        parse_search(ctx.search, rtype, pairs, base_url=base_url)
    except InvalidRequest as error:
        return f"_typeFilter for {rtype}: {error}"
    return None


def _check_types(principal: Principal | None, spec: ExportSpec) -> None:
    if principal is None or spec.types is None:
        return
    refused = [t for t in spec.types if not allowed(principal, "r", t)]
    if refused:
        raise Forbidden(f"this client may not read {', '.join(refused)}: leave "
                        f"{'it' if len(refused) == 1 else 'them'} out of _type",
                        expression="_type")


async def _members(ctx: ServerContext, group_id: str) -> list[str]:
    stored = await ctx.db.get_current("Group", group_id)
    if stored is None or stored.content is None:
        raise NotFound(f"Group/{group_id} is not known")
    group = orjson.loads(stored.content)
    members = []
    for member in group.get("member") or []:
        ref = str((member.get("entity") or {}).get("reference") or "")
        head, _, pid = ref.rpartition("/")
        if head.endswith("Patient") and pid and not member.get("inactive"):
            members.append(pid)
    return list(dict.fromkeys(members))
