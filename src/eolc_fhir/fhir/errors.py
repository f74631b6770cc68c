"""FHIR-meaning errors: every failure names an issue code and an HTTP status.

Nothing here imports a web framework; ``api/`` alone turns these into
responses (an OperationOutcome body with the status and headers below).
The classes are THE mapping from a kind of failure to its HTTP status and
OperationOutcome issue code: ``issue_code(status)`` and
``error_for_status(status, text)`` read the same table for answers that start
from a status (the framework's 404/405, the security layer's 401/429).

    FhirError                      (base; status 400, code "invalid")
     ├── InvalidRequest            400  invalid / structure / value / required / not-supported
     ├── Unauthorized              401  login
     ├── Forbidden                 403  forbidden
     ├── NotFound                  404  not-found
     ├── MethodNotAllowed          405  not-supported
     ├── NotAcceptable             406  not-supported
     ├── Gone                      410  deleted
     ├── PreconditionFailed        412  conflict
     ├── PayloadTooLarge           413  too-costly
     ├── UnsupportedMediaType      415  not-supported
     ├── ProfileViolation          422  processing (profile or business rule)
     ├── TooManyRequests           429  throttled
     ├── InternalError             500  exception  (fatal; says nothing of the cause)
     └── ServiceUnavailable        503  transient  (Retry-After: the database is
                                                    unreachable, locked or dropped)

``storage/`` raises ``ServiceUnavailable`` for database failures that are
worth retrying; nothing above it needs to know which driver failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "Issue",
    "FhirError",
    "InvalidRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "MethodNotAllowed",
    "NotAcceptable",
    "Gone",
    "PreconditionFailed",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "ProfileViolation",
    "TooManyRequests",
    "InternalError",
    "ServiceUnavailable",
    "issue_code",
    "error_for_status",
]


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue: severity, IssueType code, text, FHIRPath location."""

    severity: str
    code: str
    diagnostics: str
    expression: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_error(self) -> bool:
        return self.severity in ("error", "fatal")


class FhirError(Exception):
    """Base of every error that becomes an OperationOutcome."""

    status: int = 400
    code: str = "invalid"
    severity: str = "error"

    def __init__(
        self,
        message: str | None = None,
        *,
        issues: Iterable[Issue] = (),
        expression: str | Sequence[str] | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        issue_list = list(issues)
        if message is not None or not issue_list:
            if isinstance(expression, str):
                expr: tuple[str, ...] = (expression,)
            else:
                expr = tuple(expression or ())
            text = message or self.__class__.__name__
            issue_list.insert(0, Issue(self.severity, code or self.code, text, expr))
        self.issues: list[Issue] = issue_list
        self.headers: dict[str, str] = dict(headers or {})
        super().__init__(self.issues[0].diagnostics)


class InvalidRequest(FhirError):
    status, code = 400, "invalid"


class Unauthorized(FhirError):
    status, code = 401, "login"


class Forbidden(FhirError):
    status, code = 403, "forbidden"


class NotFound(FhirError):
    status, code = 404, "not-found"


class MethodNotAllowed(FhirError):
    status, code = 405, "not-supported"


class NotAcceptable(FhirError):
    status, code = 406, "not-supported"


class Gone(FhirError):
    status, code = 410, "deleted"


class PreconditionFailed(FhirError):
    status, code = 412, "conflict"


class PayloadTooLarge(FhirError):
    status, code = 413, "too-costly"


class UnsupportedMediaType(FhirError):
    status, code = 415, "not-supported"


class ProfileViolation(FhirError):
    status, code = 422, "processing"


class TooManyRequests(FhirError):
    status, code = 429, "throttled"


class InternalError(FhirError):
    """An unexpected failure: the answer says nothing of its cause (the log has it)."""

    status, code, severity = 500, "exception", "fatal"


class ServiceUnavailable(FhirError):
    """The database cannot answer now (unreachable, locked, connection lost): retry later."""

    status, code = 503, "transient"

    def __init__(self, message: str | None = None, *, retry_after: int = 5,
                 issues: Iterable[Issue] = (), headers: dict[str, str] | None = None) -> None:
        super().__init__(message, issues=issues, headers=headers)
        self.headers.setdefault("Retry-After", str(max(1, retry_after)))


_BY_STATUS: dict[int, type[FhirError]] = {
    cls.status: cls for cls in (
        InvalidRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, NotAcceptable,
        Gone, PreconditionFailed, PayloadTooLarge, UnsupportedMediaType, ProfileViolation,
        TooManyRequests, InternalError, ServiceUnavailable,
    )
}


def issue_code(status: int) -> str:
    """The OperationOutcome issue code for an HTTP error status."""
    found = _BY_STATUS.get(status)
    if found is not None:
        return found.code
    return "exception" if status >= 500 else "invalid"


def error_for_status(status: int, message: str,
                     headers: dict[str, str] | None = None) -> FhirError:
    """The error a bare HTTP status stands for, carrying ``message`` and ``headers``."""
    found = _BY_STATUS.get(status)
    if found is not None:
        return found(message, headers=headers)
    error = FhirError(message, code=issue_code(status), headers=headers)
    error.status = status
    return error
