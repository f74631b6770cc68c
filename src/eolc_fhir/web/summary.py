"""The $wishes document Bundle read into what a summary page shows (pure, no I/O).

``summary_of(bundle)`` is the one interface: it takes the document exactly as
``Patient/$wishes`` answers it and returns a ``WishesSummary``: who (name, NHS
number written 3-3-4, date of birth), whether they have died, the CPR status
in one line, every warning, then the other sections in the document's order,
each as text runs (``web.narrative``). Nothing here is markup: the templates
escape every string.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from eolc_fhir.fhir.nhs_number import NHS_NUMBER_SYSTEM
from eolc_fhir.services.wishes.parts import CPR_CODES, SECTION_SYSTEM, WARNING_SYSTEM, WARNINGS
from eolc_fhir.web.narrative import Paragraph, paragraphs_of

__all__ = ["Alert", "CprStatus", "SummarySection", "WishesSummary", "summary_of",
           "NotADocument", "FIRST_SECTIONS"]

FIRST_SECTIONS = ("warnings", "cpr-decision")  # shown first, in their own form
_DNACPR, _FOR_CPR = "450476008", "450475007"


class NotADocument(ValueError):
    """The Bundle is not a $wishes document (no Composition first)."""


@dataclass(frozen=True)
class Alert:
    code: str
    title: str
    detail: str
    severity: str  # DetectedIssue.severity: high, moderate, low


@dataclass(frozen=True)
class CprStatus:
    kind: str  # not-for-cpr, for-cpr, none, conflict
    headline: str
    overdue: bool
    paragraphs: list[Paragraph]


@dataclass(frozen=True)
class SummarySection:
    code: str
    title: str
    paragraphs: list[Paragraph]
    empty: bool


@dataclass(frozen=True)
class WishesSummary:
    name: str
    nhs_number: str  # "999 000 0018", or "unknown"
    birth_date: str  # "12 March 1941" (as recorded when only partly known)
    deceased: str | None  # what the document says of the death, None when alive
    title: str  # the Composition's title
    generated: str  # the document's timestamp
    cpr: CprStatus
    warnings: list[Alert]
    sections: list[SummarySection]


def summary_of(bundle: dict[str, Any]) -> WishesSummary:
    """What the page shows, from a $wishes document Bundle."""
    entries = [e.get("resource") for e in bundle.get("entry") or [] if isinstance(e, dict)]
    resources = [r for r in entries if isinstance(r, dict)]
    if not resources or resources[0].get("resourceType") != "Composition":
        raise NotADocument("not a $wishes document: its first entry is not a Composition")
    composition = resources[0]
    by_ref = {f"{r.get('resourceType')}/{r.get('id')}": r for r in resources}
    by_ref.update({f"urn:uuid:{r.get('id')}": r for r in resources})
    patient = by_ref.get(str((composition.get("subject") or {}).get("reference")), {})
    sections = {_code(s): s for s in composition.get("section") or []}
    warnings = _alerts(sections.get("warnings"), by_ref)
    died = next((w.detail[:1].upper() + w.detail[1:] for w in warnings
                 if w.code == "deceased"), None)
    return WishesSummary(
        name=_name(patient), nhs_number=_nhs_number(patient),
        birth_date=_readable_date(patient.get("birthDate")), deceased=died,
        title=str(composition.get("title", "")), generated=str(bundle.get("timestamp", "")),
        cpr=_cpr(sections.get("cpr-decision"), by_ref, warnings), warnings=warnings,
        sections=[_section(code, s) for code, s in sections.items()
                  if code not in FIRST_SECTIONS])


def _code(section: dict[str, Any]) -> str:
    for coding in (section.get("code") or {}).get("coding") or []:
        if coding.get("system") == SECTION_SYSTEM:
            return str(coding.get("code"))
    return str(section.get("title", ""))


def _paragraphs(section: dict[str, Any] | None) -> list[Paragraph]:
    return paragraphs_of(str(((section or {}).get("text") or {}).get("div", "")))


def _section(code: str, section: dict[str, Any]) -> SummarySection:
    return SummarySection(code, str(section.get("title", code)), _paragraphs(section),
                          empty="emptyReason" in section)


def _alerts(section: dict[str, Any] | None, by_ref: dict[str, dict[str, Any]]) -> list[Alert]:
    alerts = []
    for entry in (section or {}).get("entry") or []:
        issue = by_ref.get(str(entry.get("reference")))
        if issue is None:
            continue
        code = next((str(c.get("code")) for c in (issue.get("code") or {}).get("coding") or []
                     if c.get("system") == WARNING_SYSTEM), "")
        title = WARNINGS.get(code, (str((issue.get("code") or {}).get("text", "Warning")), ""))[0]
        alerts.append(Alert(code, title, str(issue.get("detail", "")),
                            str(issue.get("severity", "high"))))
    return alerts


def _cpr(section: dict[str, Any] | None, by_ref: dict[str, dict[str, Any]],
         warnings: list[Alert]) -> CprStatus:
    codes: list[str] = []
    for entry in (section or {}).get("entry") or []:
        flag = by_ref.get(str(entry.get("reference"))) or {}
        codes += [str(c.get("code")) for c in (flag.get("code") or {}).get("coding") or []
                  if str(c.get("code")) in CPR_CODES]
    overdue = any(w.code == "cpr-review-overdue" for w in warnings)
    if len(codes) > 1:
        kind, headline = "conflict", "CPR: CONFLICTING DECISIONS RECORDED — CHECK WHICH STANDS"
    elif codes == [_DNACPR]:
        kind, headline = "not-for-cpr", "NOT FOR ATTEMPTED CPR (DNACPR)"
    elif codes == [_FOR_CPR]:
        kind, headline = "for-cpr", "FOR ATTEMPTED CPR"
    else:
        kind, headline = "none", "NO CPR DECISION RECORDED"
    if overdue:
        headline += " — PAST ITS REVIEW DATE"
    return CprStatus(kind, headline, overdue, _paragraphs(section))


def _name(patient: dict[str, Any]) -> str:
    names = patient.get("name") or [{}]
    first = names[0] if isinstance(names[0], dict) else {}
    if first.get("text"):
        return str(first["text"])
    parts = [*(first.get("given") or []), first.get("family", "")]
    return " ".join(str(p) for p in parts if p) or "Name not recorded"


def _nhs_number(patient: dict[str, Any]) -> str:
    number = next((str(i.get("value", "")) for i in patient.get("identifier") or []
                   if i.get("system") == NHS_NUMBER_SYSTEM), "")
    return f"{number[:3]} {number[3:6]} {number[6:]}" if len(number) == 10 else "unknown"


def _readable_date(value: Any) -> str:
    if not value:
        return "not recorded"
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        return str(value)  # a partial date (1941, 1941-03) as recorded
    return f"{day.day} {day.strftime('%B %Y')}"
