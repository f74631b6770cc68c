"""The parameters of $evaluate-measure (R4), from a query string or a Parameters body.

R4 names the report types ``population`` (a summary), ``subject-list`` and
``subject`` (one person); the MeasureReport types they give are ``summary``,
``subject-list`` and ``individual``, and those names are accepted too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from eolc_fhir.fhir.errors import InvalidRequest

__all__ = ["EvaluateRequest", "from_query", "from_parameters", "REPORT_TYPES"]

# the name a client may send -> the MeasureReport.type it gets
REPORT_TYPES = {"population": "summary", "summary": "summary", "subject-list": "subject-list",
                "subject": "individual", "individual": "individual"}
_SINGLE = ("periodStart", "periodEnd", "measure", "reportType", "subject", "lastReceivedOn")
_IGNORED = ("_format", "_pretty", "lastReceivedOn")


@dataclass(frozen=True)
class EvaluateRequest:
    """One evaluation. ``subject``: ``Patient/<id>`` (an individual report) or
    ``Organization/<id>`` (a GP practice: its registered patients only)."""

    period_start: str
    period_end: str
    measure_id: str | None = None  # Measure/[id]/$evaluate-measure
    measure_url: str | None = None  # the canonical, for the type-level call
    report_type: str | None = None  # None: individual with a Patient subject, else summary
    subject: str | None = None

    def audit_query(self) -> str:
        """The request's parameters as a query string, for the audit record."""
        pairs = [("periodStart", self.period_start), ("periodEnd", self.period_end),
                 ("measure", self.measure_url), ("reportType", self.report_type),
                 ("subject", self.subject)]
        return urlencode([(k, v) for k, v in pairs if v is not None])

    @property
    def kind(self) -> str:
        """The MeasureReport.type this request gets."""
        if self.report_type is not None:
            return REPORT_TYPES[self.report_type]
        return "individual" if (self.subject or "").startswith("Patient/") else "summary"


def from_query(params: Sequence[tuple[str, str]], measure_id: str | None) -> EvaluateRequest:
    """From ``name=value`` pairs; 400 naming the parameter that is missing, repeated,
    unknown or not understood."""
    values: dict[str, str] = {}
    for name, value in params:
        if name == "practitioner":
            raise InvalidRequest("practitioner is not supported: evaluate for a GP practice "
                                 "with subject=Organization/<id>", code="not-supported",
                                 expression="practitioner")
        if name not in _SINGLE and name not in _IGNORED:
            raise InvalidRequest(f"$evaluate-measure has no parameter '{name}'",
                                 code="not-supported", expression=name)
        if name in values:
            raise InvalidRequest(f"{name} may be given once", expression=name)
        values[name] = value
    return _request(values, measure_id)


def from_parameters(body: dict[str, Any], measure_id: str | None) -> EvaluateRequest:
    """From a POSTed Parameters resource (value[x] of any primitive type)."""
    if body.get("resourceType") != "Parameters":
        raise InvalidRequest("the body of $evaluate-measure must be a Parameters resource")
    pairs = []
    for n, param in enumerate(body.get("parameter") or []):
        value = next((v for k, v in param.items() if k.startswith("value")), None)
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise InvalidRequest(f"parameter {param.get('name')!r} needs a primitive value",
                                 expression=f"Parameters.parameter[{n}]")
        pairs.append((str(param.get("name")), str(value)))
    return from_query(pairs, measure_id)


def _request(values: dict[str, str], measure_id: str | None) -> EvaluateRequest:
    for name in ("periodStart", "periodEnd"):
        if not values.get(name):
            raise InvalidRequest(f"{name} is required", code="required", expression=name)
    if measure_id is None and not values.get("measure"):
        raise InvalidRequest("measure (the Measure's canonical url) is required at "
                             "Measure/$evaluate-measure", code="required", expression="measure")
    if measure_id is not None and "measure" in values:
        raise InvalidRequest("measure is for Measure/$evaluate-measure; this call names the "
                             "Measure by id", expression="measure")
    report_type = values.get("reportType")
    if report_type is not None and report_type not in REPORT_TYPES:
        raise InvalidRequest(f"reportType must be one of {', '.join(REPORT_TYPES)}",
                             code="value", expression="reportType")
    subject = values.get("subject")
    if subject is not None and not _subject_ok(subject):
        raise InvalidRequest("subject must be Patient/<id> or Organization/<id>",
                             code="value", expression="subject")
    request = EvaluateRequest(values["periodStart"], values["periodEnd"], measure_id,
                              values.get("measure"), report_type, subject)
    if request.kind == "individual" and not (subject or "").startswith("Patient/"):
        raise InvalidRequest("an individual report needs subject=Patient/<id>",
                             expression="subject")
    if request.kind != "individual" and (subject or "").startswith("Patient/"):
        raise InvalidRequest(f"reportType={report_type} cannot be about one Patient",
                             expression="reportType")
    return request


def _subject_ok(subject: str) -> bool:
    rtype, _, rid = subject.partition("/")
    return rtype in ("Patient", "Organization") and bool(rid) and "/" not in rid
