"""The security layer's part of the write path, and the start and stop of the audit trail.

A write hook (services/resources/writes.py) records, in the write's own transaction:
who recorded the resource (for the consent rule and Subscription ownership),
the consent-to-share state, a Provenance (unless the request sent
``X-Provenance``) and the write's audit record (a row of the audit log).
Every other request's audit record is written by the middleware through the
``AuditTrail`` started here (services/audit_trail.py), before its answer leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
from collections.abc import Sequence
from typing import Any

import orjson

from eolc_fhir.fhir.errors import Forbidden, InvalidRequest
from eolc_fhir.fhir.instant import from_instant, now_us, to_instant
from eolc_fhir.security.audit import AuditRecord
from eolc_fhir.security.capability import add_security, restrict_audit
from eolc_fhir.security.compartment import consent_state, is_consent_to_share, patient_of
from eolc_fhir.security.demo import ensure_demo_clients, ensure_demo_people
from eolc_fhir.security.enforce import check_entry
from eolc_fhir.security.principal import RequestContext, current
from eolc_fhir.security.provenance import about_patient, provenance_for
from eolc_fhir.security.state import SecurityState, start_security
from eolc_fhir.security.visibility import hidden
from eolc_fhir.services.audit_trail import AuditTrail
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.resources.admission import admit
from eolc_fhir.services.resources.writes import Change, new_id, store_new_versions
from eolc_fhir.storage.security_repo import Origin, SecurityRepository
from eolc_fhir.storage.unit_of_work import UnitOfWork

__all__ = ["install", "uninstall", "security_write_hook", "security_write_batch"]

log = logging.getLogger("eolc_fhir.security")
_PRACTICE_TYPES = ("Patient", "Organization")  # they decide who a GP person's people are
_SERVER_WRITTEN = "server-written"  # RequestContext.extra flag: the Provenance we write ourselves


async def install(ctx: ServerContext) -> None:
    """Bookkeeping always; tokens, audit and provenance unless --insecure-dev."""
    ctx.hooks.write_hooks.append(security_write_hook)
    ctx.hooks.batch_write_hooks[security_write_hook] = security_write_batch
    ctx.hooks.capability_contributors.append(restrict_audit)
    if ctx.settings.insecure_dev:
        return
    state = await start_security(ctx.settings, ctx.db)
    ctx.security = state
    ctx.hooks.entry_guards.append(_entry_guard)
    ctx.hooks.statement_contributors.append(add_security)
    if ctx.settings.demo_clients:
        await ensure_demo_clients(ctx.settings, ctx.db)
        await ensure_demo_people(ctx.settings, ctx.db)
    trail = AuditTrail(ctx.db, ctx.settings)
    trail.start()
    state.audit = ctx.audit_trail = trail


async def _entry_guard(ctx: ServerContext, uow: UnitOfWork, method: str, url: str) -> None:
    await check_entry(ctx.security, method, url, uow.security)


async def uninstall(ctx: ServerContext) -> None:
    state: SecurityState | None = ctx.security
    trail, ctx.audit_trail = ctx.audit_trail, None
    if trail is not None:  # requests have all been answered: nothing waits on it
        await trail.stop()
    if state is not None:
        await state.close()


async def security_write_hook(ctx: ServerContext, uow: UnitOfWork, change: Change) -> None:
    rtype = change.stored.resource_type
    request = current.get()
    if rtype == "AuditEvent" or (request is not None and request.extra.get(_SERVER_WRITTEN)):
        return
    repo = uow.security
    if change.previous is not None and request is not None and ctx.security is not None:
        await _may_change(repo, change, request)
    await _bookkeeping(ctx, repo, change, request)
    if request is None or request.principal is None or ctx.security is None:
        return  # --insecure-dev, or a write from outside a request (loader, migration)
    request.extra[_SERVER_WRITTEN] = True
    try:
        await _provenances(ctx, uow, [(change, request, None)])
        await uow.audit.append([_audit_record(change, request)])  # committed with the write
    finally:
        request.extra[_SERVER_WRITTEN] = False
    uow.after_commit(functools.partial(_audited, request))


async def security_write_batch(ctx: ServerContext, uow: UnitOfWork, changes: Sequence[Change],
                               contexts: Sequence[contextvars.Context] | None = None) -> None:
    """``security_write_hook`` for many new resources (``store_new_versions``), each written
    by the request of its context in ``contexts`` (a group of concurrent creates), or all
    by the current one (a transaction's creates; the loader, outside any request): the
    same rows, in a few statements per batch instead of about a dozen per resource. The
    bookkeeping rows go in one insert per table, the Provenances in one
    ``store_new_versions``, the audit records in one append. Anything but a brand-new
    resource takes the per-change path."""
    if contexts is None:
        requests = [current.get()] * len(changes)
    else:
        requests = [context.get(current) for context in contexts]
    if not all(c.interaction == "create" and c.previous is None and c.stored.version == 1
               for c in changes):
        for i, change in enumerate(changes):
            if contexts is None:
                await security_write_hook(ctx, uow, change)
            else:
                await asyncio.create_task(security_write_hook(ctx, uow, change),
                                          context=contexts[i])
        return
    todo = [i for i, (change, request) in enumerate(zip(changes, requests, strict=True))
            if change.stored.resource_type != "AuditEvent"
            and not (request is not None and request.extra.get(_SERVER_WRITTEN))]
    await _record_new(ctx, uow.security, [(changes[i], requests[i]) for i in todo])
    signed = [(changes[i], request, None if contexts is None else contexts[i])
              for i in todo if (request := requests[i]) is not None
              and request.principal is not None and ctx.security is not None]
    if not signed:
        return  # --insecure-dev, or writes from outside a request (loader, migration)
    by_request = {id(request): request for _, request, _ in signed}
    for request in by_request.values():
        request.extra[_SERVER_WRITTEN] = True
    try:
        await _provenances(ctx, uow, signed)
        await uow.audit.append([_audit_record(change, request) for change, request, _ in signed])
    finally:
        for request in by_request.values():
            request.extra[_SERVER_WRITTEN] = False
    for request in by_request.values():
        uow.after_commit(functools.partial(_audited, request))


def _audited(request: RequestContext) -> None:
    """Only a committed write's audit counts; a rollback loses it."""
    request.audited_in_transaction = True


async def _record_new(ctx: ServerContext, repo: SecurityRepository,
                      changes: Sequence[tuple[Change, RequestContext | None]]) -> None:
    """``_bookkeeping`` of brand-new resources: one insert per table."""
    origins: list[tuple[str, str, Origin]] = []
    consents: list[tuple[str, str | None, bool, bool, int]] = []
    for change, request in changes:
        stored, resource = change.stored, change.resource
        if resource is None:
            continue
        patient = patient_of(resource)
        if is_consent_to_share(resource):
            active, withdrawn = consent_state(resource)
            consents.append((stored.id, patient, active, withdrawn,
                             _recorded(resource, stored.last_updated_us)))
            patient = None  # as in _bookkeeping: the consent itself stays visible
        if stored.resource_type in _PRACTICE_TYPES and ctx.security is not None:
            ctx.security.forget_practices()
        origins.append((stored.resource_type, stored.id, _origin(request, patient)))
    if consents:
        await repo.put_consents(consents)
        _forget_withdrawn(ctx)
    await repo.insert_origins(origins)


def _origin(request: RequestContext | None, patient: str | None) -> Origin:
    principal = request.principal if request is not None else None
    if principal is None:
        return Origin(None, None, patient)
    return Origin(principal.client_id, principal.ods, patient, principal.user_id)


async def _may_change(repo: SecurityRepository, change: Change,
                      request: RequestContext) -> None:
    """Whatever path found it (conditional update, transaction), nobody changes what
    they may not see: another client's Subscription, a record hidden by withdrawn consent.
    Asked inside the write's own transaction: no second connection while it holds one."""
    principal = request.principal
    rtype, rid = change.stored.resource_type, change.stored.id
    if principal is None or principal.is_admin:
        return
    origin = (await repo.origins([(rtype, rid)])).get((rtype, rid))
    patient = origin.patient_id if origin is not None else None
    withdrawn = frozenset(await repo.withdrawn_patients([patient])) if patient else frozenset()
    if hidden(principal, rtype, origin, withdrawn):
        raise Forbidden(f"{rtype}/{rid} may not be changed by this client")


async def _bookkeeping(ctx: ServerContext, repo: SecurityRepository, change: Change,
                       request: RequestContext | None) -> None:
    stored, resource = change.stored, change.resource
    patient = patient_of(resource) if resource is not None else None
    if resource is not None and is_consent_to_share(resource):
        active, withdrawn = consent_state(resource)
        await repo.put_consent(stored.id, patient, active=active, withdrawn=withdrawn,
                               recorded_us=_recorded(resource, stored.last_updated_us))
        patient = None  # the consent itself stays visible to all who may read Consents
        _forget_withdrawn(ctx)
    elif change.interaction == "delete" and stored.resource_type == "Consent":
        await repo.put_consent(stored.id, None, active=False, withdrawn=False, recorded_us=0)
        _forget_withdrawn(ctx)
    if stored.resource_type in _PRACTICE_TYPES and ctx.security is not None:
        ctx.security.forget_practices()  # whose practice a person is may have changed
    if change.interaction == "delete":
        return
    await repo.record_origin(stored.resource_type, stored.id, _origin(request, patient),
                             created=change.interaction == "create",
                             first_version=stored.version == 1)


def _forget_withdrawn(ctx: ServerContext) -> None:
    if ctx.security is not None:
        ctx.security.forget_withdrawn()


def _recorded(resource: dict[str, Any], fallback_us: int) -> int:
    value = resource.get("dateTime")
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return from_instant(value if "T" in value else value + "T00:00:00Z")
    return fallback_us


def _target(change: Change) -> str:
    s = change.stored
    return f"{s.resource_type}/{s.id}/_history/{s.version}"


async def _provenances(ctx: ServerContext, uow: UnitOfWork,
                       changes: Sequence[tuple[Change, RequestContext,
                                               contextvars.Context | None]]) -> None:
    """A Provenance for each change but a Provenance's, stored together; each change's
    context as in ``security_write_batch`` (None: all in the current one)."""
    admitted = []
    contexts: list[contextvars.Context] = []
    for change, request, context in changes:
        if change.stored.resource_type == "Provenance":
            continue
        assert request.principal is not None
        if request.x_provenance is not None:
            provenance = _supplied_provenance(request.x_provenance)
            provenance["target"] = [{"reference": _target(change)}]
            about_patient(provenance, _patient_of_change(change))
        else:
            provenance = provenance_for(_target(change), change.interaction,
                                        change.stored.last_updated_us, request.principal,
                                        _patient_of_change(change))
        provenance["id"] = new_id()
        # One we built needs only the strict walk; one the client sent in X-Provenance is
        # request input like any body, and gets the whole base stage.
        admitted.append(admit(ctx.validator, provenance,
                              base_check="structure" if request.x_provenance is None
                              else "full"))
        if context is not None:
            contexts.append(context)
    if admitted:
        await store_new_versions(ctx, uow, admitted, method="POST",
                                 contexts=contexts or None)


def _supplied_provenance(header: str) -> dict[str, Any]:
    try:
        provenance = orjson.loads(header)
    except orjson.JSONDecodeError:
        raise InvalidRequest("X-Provenance is not a JSON Provenance resource") from None
    if not isinstance(provenance, dict) or provenance.get("resourceType") != "Provenance":
        raise InvalidRequest("X-Provenance must hold a Provenance resource")
    provenance.pop("id", None)
    provenance.pop("meta", None)
    provenance.setdefault("recorded", to_instant(now_us()))
    return dict(provenance)


def _patient_of_change(change: Change) -> str | None:
    if change.resource is not None:
        return patient_of(change.resource)
    if change.previous is not None and change.previous.content is not None:
        return patient_of(orjson.loads(change.previous.content))
    return None


def _audit_record(change: Change, request: RequestContext) -> AuditRecord:
    """The write's audit record: one compact row, committed with the write."""
    assert request.principal is not None
    patient = _patient_of_change(change)
    principal = request.principal
    return AuditRecord(
        interaction=change.interaction, recorded_us=now_us(), status=200,
        client_id=principal.client_id, ods=principal.ods, role=principal.role,
        user_id=principal.user_id, request_id=request.request_id, remote=request.remote,
        resources=[_target(change)], patients=[patient] if patient else [],
    )
