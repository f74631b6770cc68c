"""Authentication, authorization, audit and security headers around every request.

``SecurityMiddleware`` (outermost ASGI middleware) adds the security headers
to every response; for FHIR endpoints it verifies the bearer token (401),
applies the per-client rate limit (429), sets the request's security context,
hides what the caller may not see in Bundles, and writes the request's audit
record (unless a write hook already wrote it in the write's transaction) before
the answer leaves: a record that cannot be committed turns the answer into a 503.
``authorize`` is the one authorization step (403/405) of both front doors: the
routes call it through the router dependency ``authorize_route``, the lean
paths (api/fastread.py) directly. Interactions are named by
``fhir.interactions.classify`` alone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from eolc_fhir.api.errors import crash_response, error_response
from eolc_fhir.api.scope import Scope, header
from eolc_fhir.config import Settings
from eolc_fhir.fhir.errors import (
    FhirError,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    error_for_status,
)
from eolc_fhir.fhir.instant import now_us
from eolc_fhir.fhir.interactions import BUNDLE_INTERACTIONS, Target, classify
from eolc_fhir.fhir.models import is_resource_type
from eolc_fhir.security.answers import filter_answer
from eolc_fhir.security.audit import AuditRecord
from eolc_fhir.security.compartment import patient_of
from eolc_fhir.security.enforce import check
from eolc_fhir.security.principal import RequestContext, current
from eolc_fhir.security.state import SecurityState
from eolc_fhir.security.tokens import InvalidToken
from eolc_fhir.security.visibility import subscription_of_status
from eolc_fhir.services.operations import operation_reads

__all__ = ["SecurityMiddleware", "authorize", "authorize_route", "PUBLIC_PATHS"]

log = logging.getLogger("eolc_fhir.access")
PUBLIC_PATHS = ("/metadata", "/healthz", "/readyz", "/docs",
                "/openapi.json", "/favicon.ico", "/console")
# /console/ pages sign people in themselves and read the API with their token.
_PUBLIC_PREFIXES = ("/.well-known/", "/auth/", "/docs/static/", "/console/")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9\-]{1,64}$")
_BASE_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_AUDIT_BODY_LIMIT = 2_000_000  # larger responses are audited without their entities
_ENTITY_LIMIT = 100
_SHUTTING_DOWN = ServiceUnavailable(
    "the server is shutting down and stopped this request before answering it; retry "
    "(a write may have committed just before: read it, or retry with a conditional create)")


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(_PUBLIC_PREFIXES)


def _security_headers(scope: Scope, settings: Settings, request_id: str) -> list[Any]:
    headers = list(_BASE_HEADERS)
    headers.append(_CSP)  # pages that need more (/docs, the $wishes page) set their own
    if settings.hsts:
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    headers.append((b"x-request-id", request_id.encode()))
    return headers


class SecurityMiddleware:
    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = header(scope, b"x-request-id")
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else os.urandom(16).hex()
        extra = _security_headers(scope, self.settings, request_id)
        ctx = getattr(scope["app"].state, "ctx", None)
        state: SecurityState | None = getattr(ctx, "security", None)
        if state is None or _is_public(scope["path"]):
            await _answering_crashes(self.app, scope, receive, _with_headers(send, extra),
                                     request_id)
            return
        await _Exchange(self.app, state, scope, request_id, extra).run(receive, send)


async def _answering_crashes(app: Any, scope: Scope, receive: Any, send: Any,
                             request_id: str) -> None:
    """Run the app; an exception that escapes it is answered (and logged without its
    message) here, so the server never logs it with its text."""
    started = False

    async def tracking(message: dict[str, Any]) -> None:
        nonlocal started
        started = started or message["type"] == "http.response.start"
        await send(message)

    try:
        await app(scope, receive, tracking)
    except Exception as exc:
        start, body = _crash_outcome(exc, request_id)
        if not started:
            await send(start)
            await send({"type": "http.response.body", "body": body[0]})
    except asyncio.CancelledError:
        # uvicorn cancels what still runs when EOLC_SHUTDOWN_SECONDS runs out: answer
        # "retry" (503) as an OperationOutcome rather than uvicorn's plain-text 500.
        if not started:
            start, body = _as_messages(error_response(_SHUTTING_DOWN))
            await send(start)
            await send({"type": "http.response.body", "body": body[0]})
        raise


def _with_headers(send: Any, extra: list[Any], cache: bytes = b"no-store") -> Any:
    async def wrapped(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            names = {k.lower() for k, _ in headers}
            headers += [(k, v) for k, v in extra if k not in names]
            if b"cache-control" not in names:
                headers.append((b"cache-control", cache))
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


class _Exchange:
    """One authenticated FHIR request: check, run, filter, audit, answer."""

    def __init__(self, app: Any, state: SecurityState, scope: Scope, request_id: str,
                 extra: list[Any]) -> None:
        self.app, self.state, self.scope, self.extra = app, state, scope, extra
        client = scope.get("client")
        self.rc = RequestContext(
            request_id=request_id, method=scope["method"], path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            remote=client[0] if client else None,
            x_provenance=header(scope, b"x-provenance"),
        )
        self.started = time.perf_counter()
        self.start: dict[str, Any] | None = None
        self.body: list[bytes] = []
        self.streamed: Any = None  # the send of a streamed answer, once its start went

    async def run(self, receive: Any, send: Any) -> None:
        try:
            refusal = await self._authenticate()
        except FhirError as error:  # e.g. 503: the database cannot check the token now
            refusal = _error_outcome(error)
        if refusal is not None:
            await self._finish(send, refusal)
            return
        token = current.set(self.rc)
        try:
            await self.app(self.scope, receive, lambda message: self._capture(message, send))
        except Exception as exc:  # nothing above us answers or logs it
            outcome = _crash_outcome(exc, self.rc.request_id)
            if self.start is None:
                self.start, self.body = outcome
        finally:
            current.reset(token)
        if self.streamed is not None and self.streamed is not _dropped:
            self._log(int(self.start["status"]) if self.start else 500)
            return
        await self._finish(send, None)

    async def _capture(self, message: dict[str, Any], send: Any) -> None:
        if self.streamed is not None:  # a file, passed on as it is read
            await self.streamed(message)
        elif message["type"] == "http.response.start":
            self.start = message
            if self.rc.extra.get("stream") and int(message["status"]) < 400:
                await self._stream(send)
        elif message["type"] == "http.response.body":
            self.body.append(message.get("body", b""))

    async def _stream(self, send: Any) -> None:
        """An export file: audited (durably) before its first byte, then sent as read."""
        assert self.start is not None
        try:
            await self._audit(int(self.start["status"]), None, b"")
        except Exception as exc:
            log.error("request_id=%s audit record not written (%s): answered 503",
                      self.rc.request_id, type(exc).__name__)
            self.start, self.body = _outcome(503, "the audit trail cannot be written now, "
                                             "so nothing is answered: retry later", retry_after=2)
            self.streamed = _dropped  # the file's chunks; the 503 is answered instead
            return
        self.streamed = _with_headers(send, self.extra, b"private, no-cache")
        await self.streamed(self.start)

    async def _authenticate(self) -> tuple[dict[str, Any], list[bytes]] | None:
        auth = header(self.scope, b"authorization") or ""
        scheme, _, token = auth.partition(" ")
        limiter_key, per_minute = f"ip:{self.rc.remote}", None
        if scheme.lower() != "bearer" or not token.strip():
            refusal = _outcome(401, "this endpoint needs a bearer access token from /auth/token",
                               'Bearer realm="eolc-fhir"')
        else:
            try:
                self.rc.principal = await self.state.tokens.verify(token.strip())
                limiter_key = self.rc.principal.client_id
                per_minute = await self.state.rate_limit_of(limiter_key)
                refusal = None
            except InvalidToken as exc:
                refusal = _outcome(401, str(exc), 'Bearer realm="eolc-fhir", error="invalid_token"')
        wait = self.state.limiter.take(limiter_key, per_minute)
        if wait > 0:
            return _outcome(429, "too many requests from this client; slow down",
                            retry_after=max(1, int(wait + 0.999)))
        return refusal

    async def _finish(self, send: Any, refusal: tuple[dict[str, Any], list[bytes]] | None) -> None:
        if refusal is not None:
            self.start, self.body = refusal
        assert self.start is not None
        status = int(self.start["status"])
        body = b"".join(self.body)
        # A $wishes document was decided whole by its operation, and its service named what
        # it holds: nothing to filter, nothing to parse. Other answers are parsed once.
        known = self.rc.resources is not None and self.rc.decided
        parsed = _parse(self.start, body) if status < 400 and not known else None
        try:
            changed, unknown = (False, None) if parsed is None else await filter_answer(
                parsed, self.rc.principal, self.rc.method, self.state)
            if changed:
                body = orjson.dumps(parsed)
            if unknown is not None:  # someone else's person: as if there were none
                self.start, self.body = _error_outcome(NotFound(unknown))
                status, body, parsed = 404, self.body[0], None
        except Exception as exc:  # fail closed: no Bundle leaves unfiltered
            self.start, self.body = _crash_outcome(exc, f"{self.rc.request_id} (filtering)")
            status, body, parsed = int(self.start["status"]), self.body[0], None
        # Committed writes were audited with them; a Bundle's own request is always
        # audited too (its reads, and its failure when the transaction rolled back).
        if not self.rc.audited_in_transaction or self.rc.interaction in BUNDLE_INTERACTIONS:
            try:  # durable before the answer leaves: no record, no answer
                await self._audit(status, parsed, body)
            except Exception as exc:
                log.error("request_id=%s audit record not written (%s): answered 503",
                          self.rc.request_id, type(exc).__name__)
                self.start, self.body = _outcome(503, "the audit trail cannot be written now, "
                                                 "so nothing is answered: retry later",
                                                 retry_after=2)
                status, body = 503, self.body[0]
        headers = [(k, v) for k, v in self.start.get("headers", []) if k != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        wrapped = _with_headers(send, self.extra, b"private, no-cache")
        await wrapped({**self.start, "headers": headers})
        await wrapped({"type": "http.response.body", "body": body})
        self._log(status)

    async def _audit(self, status: int, parsed: dict[str, Any] | None, body: bytes) -> None:
        writer = self.state.audit
        if writer is not None:
            await writer.write(self._record(status, parsed, body))

    def _record(self, status: int, parsed: dict[str, Any] | None, body: bytes) -> AuditRecord:
        rc = self.rc
        principal = rc.principal
        interaction = rc.interaction or classify(rc.method, rc.path).interaction
        record = AuditRecord(
            interaction=interaction, recorded_us=now_us(), status=status,
            client_id=principal.client_id if principal else None,
            ods=principal.ods if principal else None,
            role=principal.role if principal else None, request_id=rc.request_id,
            user_id=principal.user_id if principal else None,
            remote=rc.remote, query=rc.extra.get("audit_query") or (
                rc.query if interaction.startswith("search") else None),
            compartment=bool(rc.extra.get("audit_compartment")),
        )
        if status < 400 and rc.resources is not None:
            record.resources.extend(rc.resources[:_ENTITY_LIMIT])
        elif parsed is not None:
            _add_entities(record, parsed)
        elif rc.resource_type and rc.resource_id:
            record.resources.append(f"{rc.resource_type}/{rc.resource_id}")
        if not record.patients:
            record.patients.extend(rc.patients)
        if status >= 400:
            record.detail = _diagnostics(body)
        return record

    def _log(self, status: int) -> None:
        # Ids only: the query string may carry an NHS number, so it is never logged.
        principal = self.rc.principal
        log.info("request_id=%s client=%s user=%s method=%s path=%s status=%d ms=%.1f",
                 self.rc.request_id, principal.client_id if principal else "-",
                 (principal.user_id or "-") if principal else "-", self.rc.method,
                 self.rc.path, status, (time.perf_counter() - self.started) * 1000)


async def _dropped(_message: dict[str, Any]) -> None:
    return None


def _outcome(status: int, text: str, challenge: str | None = None,
             retry_after: int | None = None) -> tuple[dict[str, Any], list[bytes]]:
    headers = {}
    if challenge:
        headers["WWW-Authenticate"] = challenge
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return _error_outcome(error_for_status(status, text, headers))


def _error_outcome(error: FhirError) -> tuple[dict[str, Any], list[bytes]]:
    return _as_messages(error_response(error))


def _crash_outcome(exc: BaseException, where: str) -> tuple[dict[str, Any], list[bytes]]:
    """A FhirError's own answer, or a logged 500 (traceback without messages)."""
    return _as_messages(crash_response(exc, f"request {where}"))


def _as_messages(response: Response) -> tuple[dict[str, Any], list[bytes]]:
    start = {"type": "http.response.start", "status": response.status_code,
             "headers": list(response.raw_headers)}
    return start, [bytes(response.body)]


def _parse(start: dict[str, Any], body: bytes) -> dict[str, Any] | None:
    if not body or len(body) > _AUDIT_BODY_LIMIT or body[:1] != b"{":
        return None
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _add_entities(record: AuditRecord, parsed: dict[str, Any]) -> None:
    items: list[Any] = [parsed]  # entry resources are checked below, not trusted
    if parsed.get("resourceType") == "Bundle":
        items = [e.get("resource") for e in parsed.get("entry") or [] if isinstance(e, dict)]
    for resource in items[:_ENTITY_LIMIT]:
        if not isinstance(resource, dict) or resource.get("resourceType") in (
                "OperationOutcome", None):
            continue
        described = subscription_of_status(resource)
        if described is not None:  # a $status answer: the Subscription it describes
            record.resources.append(f"Subscription/{described}")
            continue
        version = (resource.get("meta") or {}).get("versionId")
        ref = f"{resource['resourceType']}/{resource.get('id')}"
        record.resources.append(f"{ref}/_history/{version}" if version else ref)
        patient = patient_of(resource)
        if patient:
            record.patients.append(patient)


def _diagnostics(body: bytes) -> str | None:
    try:
        issues = orjson.loads(body).get("issue") or []
        return str(issues[0].get("diagnostics"))[:200] if issues else None
    except (orjson.JSONDecodeError, AttributeError, IndexError):
        return None


async def authorize(ctx: Any, target: Target) -> None:
    """The one authorization step, for every front door: the token's scope and role for
    the interaction, an operation's own rule (and read access to all its answer holds),
    and whether the instance is hidden from the caller. Raises Forbidden/MethodNotAllowed.
    Without a security state (--insecure-dev) everything is allowed; with one, a request
    that no authenticated client made is refused (fail closed)."""
    if ctx.security is None:
        return
    rc = current.get()
    if rc is None or rc.principal is None:
        raise Unauthorized("this endpoint needs a bearer access token from /auth/token")
    rc.interaction, rc.resource_type, rc.resource_id = \
        target.interaction, target.resource_type, target.resource_id
    if target.interaction in BUNDLE_INTERACTIONS:
        return  # each entry is checked on its own (services/resources/entries.py)
    if target.resource_type is not None and not is_resource_type(target.resource_type):
        return  # no such endpoint: the router answers 404
    await check(ctx.security, rc.principal, target, reads=operation_reads(target.operation))


async def authorize_route(request: Request) -> None:
    """Router dependency of every FHIR route: ``authorize`` the request's interaction."""
    path = request.scope["path"]
    if not _is_public(path):  # /metadata: served to anyone, no client to authorize
        await authorize(request.app.state.ctx, classify(request.method, path))
