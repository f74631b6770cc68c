"""FHIR-meaning errors: every failure names an issue code and an HTTP status.

Nothing here imports a web framework; ``api/`` alone turns these into
responses (an OperationOutcome body with the status below).

    FhirError                      (base; status 400, code "invalid")
     ├── InvalidRequest            400  invalid / structure / value / required ...
     ├── ProfileViolation          422  processing (profile or business rule)
     ├── Unauthorized              401  login
     ├── Forbidden                 403  forbidden
     ├── NotFound                  404  not-found
     ├── MethodNotAllowed          405  not-supported
     ├── NotAcceptable             406  not-supported
     ├── Conflict                  409  conflict
     ├── Gone                      410  deleted
     ├── PreconditionFailed        412  conflict
     ├── PayloadTooLarge           413  too-costly
     ├── UnsupportedMediaType      415  not-supported
     ├── TooManyRequests           429  throttled
     └── ServiceUnavailable        503  transient
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "Issue",
    "FhirError",
    "InvalidRequest",
    "ProfileViolation",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "MethodNotAllowed",
    "NotAcceptable",
    "Conflict",
    "Gone",
    "PreconditionFailed",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "TooManyRequests",
    "ServiceUnavailable",
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
            issue_list.insert(0, Issue("error", code or self.code, text, expr))
        self.issues: list[Issue] = issue_list
        self.headers: dict[str, str] = headers or {}
        super().__init__(self.issues[0].diagnostics)


class InvalidRequest(FhirError):
    status, code = 400, "invalid"


class ProfileViolation(FhirError):
    status, code = 422, "processing"


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


class Conflict(FhirError):
    status, code = 409, "conflict"


class Gone(FhirError):
    status, code = 410, "deleted"


class PreconditionFailed(FhirError):
    status, code = 412, "conflict"


class PayloadTooLarge(FhirError):
    status, code = 413, "too-costly"


class UnsupportedMediaType(FhirError):
    status, code = 415, "not-supported"


class TooManyRequests(FhirError):
    status, code = 429, "throttled"


class ServiceUnavailable(FhirError):
    status, code = 503, "transient"
