"""The security layer's part of the write path and its read-audit flusher.

A write hook (services/resources/writes.py) records, in the write's own transaction:
who recorded the resource (for the consent rule and Subscription ownership),
the consent-to-share state, a Provenance (unless the request sent
``X-Provenance``) and the AuditEvent. Reads queue their AuditEvent instead;
``flusher`` writes the queue in one transaction every
``audit_flush_interval`` seconds and once more at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import orjson

from eolc_fhir.fhir.errors import FhirError, Forbidden, InvalidRequest
from eolc_fhir.fhir.instant import from_instant, now_us, to_instant
from eolc_fhir.security.audit import AuditRecord, audit_event
from eolc_fhir.security.capability import add_security, restrict_audit
from eolc_fhir.security.compartment import consent_state, is_consent_to_share, patient_of
from eolc_fhir.security.demo import ensure_demo_clients
from eolc_fhir.security.enforce import check_entry
from eolc_fhir.security.principal import RequestContext, current
from eolc_fhir.security.provenance import provenance_for
from eolc_fhir.security.state import SecurityState, start_security
from eolc_fhir.security.visibility import hidden
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.resources.admission import Admitted, admit
from eolc_fhir.services.resources.writes import (
    Change,
    index_rows,
    new_id,
    store_new_versions,
    store_version,
)
from eolc_fhir.storage.model import IndexRows
from eolc_fhir.storage.security_repo import Origin, SecurityRepository
from eolc_fhir.storage.unit_of_work import UnitOfWork

__all__ = ["install", "uninstall", "flush_audits", "security_write_hook", "security_write_batch"]

log = logging.getLogger("eolc_fhir.security")
_SERVER_WRITTEN = "server-written"  # RequestContext.extra flag: our own Provenance/AuditEvent


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
    ctx.audit_flusher = asyncio.create_task(_flusher(ctx, state))


async def _entry_guard(ctx: ServerContext, uow: UnitOfWork, method: str, url: str) -> None:
    await check_entry(ctx.security, method, url, uow.security)


async def uninstall(ctx: ServerContext) -> None:
    state: SecurityState | None = ctx.security
    task, ctx.audit_flusher = ctx.audit_flusher, None
    if state is not None and task is not None:
        # Never cancel a flush half-way (its transaction would hold the database):
        # ask the loop to stop, let it finish, then write whatever is left.
        state.audit.stop()
        await task
    if state is not None:
        while await flush_audits(ctx, state):
            pass
        await state.close()


async def _flusher(ctx: ServerContext, state: SecurityState) -> None:
    interval = ctx.settings.audit_flush_interval
    while not state.audit.stopping:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.audit.wake.wait(), timeout=interval)
        if state.audit.stopping:
            return
        try:
            while await flush_audits(ctx, state) == _FLUSH_CHUNK:
                pass  # a backlog: keep writing, a chunk per transaction
        except Exception as exc:  # keep the queue's contents for the next attempt
            log.error("writing queued audit events failed: %s", type(exc).__name__)


_FLUSH_CHUNK = 50  # events per transaction: short holds of the event loop and of the writer
_PREPARE_SLICE = 10  # events prepared between two yields to the event loop


async def flush_audits(ctx: ServerContext, state: SecurityState) -> int:
    """Write up to one chunk of queued audits in one transaction; how many were written.

    Preparing an event (validating it, its index rows) costs a few hundred microseconds
    of Python: the chunk is prepared in slices with a yield to the event loop between
    them, so requests keep being served while a backlog is written. The write is the
    one for many new resources (``store_new_versions``), which nothing else reacts to
    for an AuditEvent (no topic, no Provenance, no audit of the audit).
    """
    events = state.audit.take(_FLUSH_CHUNK)
    if not events:
        state.audit.written(0)
        return 0
    try:
        prepared: list[tuple[Admitted, IndexRows]] = []
        for start in range(0, len(events), _PREPARE_SLICE):
            for event in events[start:start + _PREPARE_SLICE]:
                audit = _new_audit(ctx, event)
                if audit is not None:
                    prepared.append(audit)
            await asyncio.sleep(0)
        async with ctx.db.unit_of_work(write=True) as uow:
            await store_new_versions(ctx, uow, [a for a, _ in prepared], method="POST",
                                     index=[rows for _, rows in prepared])
    except BaseException:
        state.audit.requeue(events)  # the next flush tries again
        raise
    state.audit.written(len(events))
    return len(events)


def _new_audit(ctx: ServerContext, event: dict[str, Any]) -> tuple[Admitted, IndexRows] | None:
    """A queued AuditEvent, admitted as a new resource, with its index rows; None if the
    validator refuses it.

    We built it (security.audit), so the base stage is the strict walk alone: the R4B
    model would cost ~0.3 ms more per audited read. One that fails is left out (and
    logged with its request id) rather than put back: it would fail every later flush
    and hold up the whole queue behind it.
    """
    resource = {**event, "id": new_id()}
    try:
        return (admit(ctx.validator, resource, base_check="structure"),
                index_rows(ctx, resource))
    except FhirError as exc:
        log.error("an audit event failed validation and was not stored: request %s, %s",
                  _request_id(event), "; ".join(e for i in exc.issues for e in i.expression))
        return None


def _request_id(event: dict[str, Any]) -> str:
    for extension in event.get("extension") or ():
        if isinstance(extension, dict) and str(extension.get("url", "")).endswith("request-id"):
            return str(extension.get("valueString"))
    return "?"


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
        if rtype != "Provenance":
            await _provenance(ctx, uow, change, request)
        await _audit(ctx, uow, change, request)
    finally:
        request.extra[_SERVER_WRITTEN] = False

    def audited() -> None:  # only a committed write's audit counts; a rollback loses it
        request.audited_in_transaction = True

    uow.after_commit(audited)


async def security_write_batch(ctx: ServerContext, uow: UnitOfWork,
                               changes: Sequence[Change]) -> None:
    """``security_write_hook`` for many changes: the bookkeeping rows of brand-new resources
    written outside a request (the loader) go in one insert per table. Anything else
    (a request's writes, with their Provenance and AuditEvent; updates) takes the
    per-change path."""
    fresh = all(c.interaction == "create" and c.previous is None and c.stored.version == 1
                for c in changes)
    if current.get() is not None or not fresh:
        for change in changes:
            await security_write_hook(ctx, uow, change)
        return
    origins: list[tuple[str, str, Origin]] = []
    consents: list[tuple[str, str | None, bool, bool, int]] = []
    for change in changes:
        stored, resource = change.stored, change.resource
        if stored.resource_type == "AuditEvent" or resource is None:
            continue
        patient = patient_of(resource)
        if is_consent_to_share(resource):
            active, withdrawn = consent_state(resource)
            consents.append((stored.id, patient, active, withdrawn,
                             _recorded(resource, stored.last_updated_us)))
            patient = None  # as in _bookkeeping: the consent itself stays visible
        origins.append((stored.resource_type, stored.id, Origin(None, None, patient)))
    repo = uow.security
    if consents:
        await repo.put_consents(consents)
        _forget_withdrawn(ctx)
    await repo.insert_origins(origins)


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
    principal = request.principal if request is not None else None
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
    if change.interaction == "delete":
        return
    origin = Origin(principal.client_id if principal else None,
                    principal.ods if principal else None, patient)
    await repo.record_origin(stored.resource_type, stored.id, origin,
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


async def _provenance(ctx: ServerContext, uow: UnitOfWork, change: Change,
                      request: RequestContext) -> None:
    assert request.principal is not None
    if request.x_provenance is not None:
        provenance = _supplied_provenance(request.x_provenance)
        provenance["target"] = [{"reference": _target(change)}]
    else:
        provenance = provenance_for(_target(change), change.interaction,
                                    change.stored.last_updated_us, request.principal)
    provenance["id"] = new_id()
    # One we built needs only the strict walk; one the client sent in X-Provenance is
    # request input like any body, and gets the whole base stage.
    await store_version(ctx, uow, provenance, None, method="POST",
                        base_check="structure" if request.x_provenance is None else "full")


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


async def _audit(ctx: ServerContext, uow: UnitOfWork, change: Change,
                 request: RequestContext) -> None:
    assert request.principal is not None
    patient = _patient_of_change(change)
    record = AuditRecord(
        interaction=change.interaction, recorded_us=now_us(), status=200,
        client_id=request.principal.client_id, ods=request.principal.ods,
        request_id=request.request_id, remote=request.remote,
        resources=[_target(change)], patients=[patient] if patient else [],
    )
    await store_version(ctx, uow, {**audit_event(record), "id": new_id()}, None, method="POST",
                        base_check="structure")  # ours: the strict walk, no R4B model
