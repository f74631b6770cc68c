"""The register page's filters as FHIR searches, and its rows from the answers (pure, no I/O).

``register_search(filters, today)`` is the one ``Flag`` search of a page: register
entries, active, with their Patient and practice included, and each filter as a
search parameter of the public API (``prognosis``, chains into ``_has`` /
``_hasnot``). ``detail_searches(ids)`` are the three searches that fill in the
rows of one page (plans, CPR decisions, first-choice places of death), and
``register_rows`` joins the answers into ``RegisterRow``s. Nothing here is markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from eolc_fhir.fhir.nhs_number import NHS_NUMBER_SYSTEM

__all__ = ["Filters", "RegisterRow", "BadFilter", "PROGNOSES", "SIZES", "filters_from",
           "register_search", "detail_searches", "register_rows", "REGISTER_VALUESET"]

_BASE = "https://eolc.example.org/fhir"
SCT = "http://snomed.info/sct"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
REGISTER_VALUESET = f"{_BASE}/ValueSet/eolc-register-codes"
_CONCEPTS = f"{_BASE}/CodeSystem/eolc-concepts"
_PROGNOSIS_URL = f"{_BASE}/StructureDefinition/eolc-prognosis"
_REVIEW_URL = f"{_BASE}/StructureDefinition/eolc-review-date"
_ACP = f"{SCT}|736366004"
_CPR = {"450475007": "For CPR", "450476008": "Not for CPR"}
PROGNOSES = {"511401000000102": "Last days of life", "955231000000109": "Last weeks of life",
             "968211000000101": "Last months of life",
             "767503006": "About a year (limited life expectancy)"}
_ODS_RE = re.compile(r"^[A-Za-z0-9]{3,12}$")
_CHOICES = {"plan": ("", "yes", "no"), "cpr": ("", "yes", "no")}
SIZES = ("10", "25", "50", "100")


class BadFilter(ValueError):
    """A filter value the page cannot use (shown on the page, never sent to the API)."""


@dataclass(frozen=True)
class Filters:
    practice: str = ""
    prognosis: str = ""
    plan: str = ""  # "", "yes", "no"
    cpr: str = ""  # "", "yes" (a decision in date), "no" (none in date)
    overdue: bool = False  # the plan's review date has passed
    noplace: bool = False  # no first-choice preferred place of death
    size: str = ""  # rows per page; "" is the page's default

    def form(self) -> dict[str, Any]:
        return {"practice": self.practice, "prognosis": self.prognosis, "plan": self.plan,
                "cpr": self.cpr, "overdue": self.overdue, "noplace": self.noplace,
                "size": self.size}


def filters_from(query: dict[str, str], default_practice: str = "") -> Filters:
    """The form's values, checked; ``default_practice`` when the form has not been sent."""
    sent = "practice" in query
    practice = (query.get("practice", "") if sent else default_practice).strip().upper()
    if practice and not _ODS_RE.match(practice):
        raise BadFilter("A practice is its ODS code: 3 to 12 letters and digits.")
    prognosis = query.get("prognosis", "")
    if prognosis and prognosis not in PROGNOSES:
        raise BadFilter("Choose a prognosis from the list.")
    for name, allowed in {**_CHOICES, "size": ("", *SIZES)}.items():
        if query.get(name, "") not in allowed:
            raise BadFilter(f"Choose {name} from the list.")
    return Filters(practice, prognosis, query.get("plan", ""), query.get("cpr", ""),
                   query.get("overdue") == "1", query.get("noplace") == "1",
                   query.get("size", ""))


def _cpr_in_date(today: date) -> str:
    return (f"(code eq {SCT}|450475007 or code eq {SCT}|450476008) and status eq active "
            f"and date ge {today.isoformat()}")


def register_search(filters: Filters, today: date, count: int) -> list[tuple[str, str]]:
    """``GET /Flag?…`` for one page of the register with these filters (``count`` rows
    unless the form chose a size)."""
    count = int(filters.size or count)
    params = [("code:in", REGISTER_VALUESET), ("status", "active"),
              ("_include", "Flag:subject"), ("_include", "Flag:author"),
              ("_count", str(count))]
    if filters.practice:
        params.append(("author:Organization.identifier", f"{ODS}|{filters.practice}"))
    if filters.prognosis:
        params.append(("prognosis", f"{SCT}|{filters.prognosis}"))
    if filters.plan:
        has = "_has" if filters.plan == "yes" else "_hasnot"
        params.append((f"patient.{has}:CarePlan:subject:category", _ACP))
    if filters.cpr:
        has = "_has" if filters.cpr == "yes" else "_hasnot"
        params.append((f"patient.{has}:Flag:subject:_filter", _cpr_in_date(today)))
    if filters.overdue:
        params.append(("patient._has:CarePlan:subject:review-date", f"lt{today.isoformat()}"))
    if filters.noplace:
        params.append(("patient._hasnot:Observation:subject:_filter",
                       f"code eq {_CONCEPTS}|preferred-place-of-death and preference-rank eq 1"))
    return params


def detail_searches(patient_ids: list[str]) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """The searches that fill in one page's rows: name -> (type, params)."""
    subjects = ",".join(f"Patient/{pid}" for pid in patient_ids)
    many = str(max(50, 4 * len(patient_ids)))
    return {
        "plans": ("CarePlan", [("subject", subjects), ("category", _ACP), ("status", "active"),
                               ("_count", many)]),
        "cpr": ("Flag", [("subject", subjects), ("code", f"{SCT}|450475007,{SCT}|450476008"),
                         ("status", "active"), ("_count", many)]),
        "places": ("Observation", [("subject", subjects),
                                   ("code", f"{_CONCEPTS}|preferred-place-of-death"),
                                   ("preference-rank", "1"), ("_count", many)]),
    }


@dataclass
class RegisterRow:
    patient_id: str
    name: str = "(no name)"
    nhs: str = ""
    birth_date: str = ""
    practice: str = ""
    added: str = ""
    prognosis: str = "not recorded"
    plan: bool = False
    plan_review: str = ""
    plan_overdue: bool = False
    cpr: str = ""  # "" when none is recorded
    cpr_review: str = ""
    cpr_past_review: bool = False
    place: str = ""  # "" when no first choice is recorded
    notes: list[str] = field(default_factory=list)


def _resources(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry") or []
            if (e.get("resource") or {}).get("resourceType") == rtype]


def _subject_id(resource: dict[str, Any]) -> str:
    reference = str((resource.get("subject") or {}).get("reference", ""))
    return reference.removeprefix("Patient/") if reference.startswith("Patient/") else ""


# eolc-place-type (the NHS Data Dictionary's death location types), for codings sent
# without a display
_PLACES = {"10": "Hospital", "21": "Patient's own home", "22": "Other private residence",
           "30": "Hospice", "41": "Care home with nursing", "42": "Care home without nursing",
           "50": "Other"}


def _text(concept: dict[str, Any] | None) -> str:
    concept = concept or {}
    coding = (concept.get("coding") or [{}])[0]
    code = str(coding.get("code") or "")
    named = _PLACES.get(code, code) if str(coding.get("system", "")).endswith(
        "/eolc-place-type") else code
    return str(concept.get("text") or coding.get("display") or named)


def _extension(resource: dict[str, Any], url: str) -> dict[str, Any]:
    return next((e for e in resource.get("extension") or [] if e.get("url") == url), {})


def _patient_fields(row: RegisterRow, patient: dict[str, Any]) -> None:
    name = (patient.get("name") or [{}])[0]
    shown = " ".join([*name.get("given", []), name.get("family", "")]).strip()
    row.name = shown or "(no name)"
    row.nhs = next((str(i.get("value", "")) for i in patient.get("identifier") or []
                    if i.get("system") == NHS_NUMBER_SYSTEM), "")
    row.birth_date = str(patient.get("birthDate", ""))


def _practice(flag: dict[str, Any], orgs: dict[str, dict[str, Any]]) -> str:
    author = flag.get("author") or {}
    org = orgs.get(str(author.get("reference", "")).removeprefix("Organization/"), {})
    ods = next((str(i.get("value", "")) for i in org.get("identifier") or []
                if i.get("system") == ODS), "")
    named = str(org.get("name") or author.get("display") or "")
    return f"{ods} {named}".strip() if ods else named


def register_rows(page: dict[str, Any], details: dict[str, dict[str, Any]],
                  today: date) -> list[RegisterRow]:
    """One row per register entry of the page, filled in from the detail answers."""
    patients = {str(p.get("id")): p for p in _resources(page, "Patient")}
    orgs = {str(o.get("id")): o for o in _resources(page, "Organization")}
    rows = []
    for flag in (e["resource"] for e in page.get("entry") or []
                 if (e.get("search") or {}).get("mode", "match") == "match"
                 and (e.get("resource") or {}).get("resourceType") == "Flag"):
        row = RegisterRow(_subject_id(flag))
        _patient_fields(row, patients.get(row.patient_id, {}))
        row.practice = _practice(flag, orgs)
        row.added = str((flag.get("period") or {}).get("start", ""))[:10]
        prognosis = _extension(flag, _PROGNOSIS_URL).get("valueCodeableConcept")
        row.prognosis = _text(prognosis) or "not recorded"
        rows.append(row)
    by_id = {row.patient_id: row for row in rows}
    _plans(by_id, details.get("plans", {}), today)
    _cpr(by_id, details.get("cpr", {}), today)
    for obs in _resources(details.get("places", {}), "Observation"):
        row_of = by_id.get(_subject_id(obs))
        if row_of is not None and obs.get("status") not in ("entered-in-error", "cancelled"):
            row_of.place = _text(obs.get("valueCodeableConcept")) or "recorded"
    return rows


def _plans(rows: dict[str, RegisterRow], bundle: dict[str, Any], today: date) -> None:
    for plan in _resources(bundle, "CarePlan"):
        row = rows.get(_subject_id(plan))
        if row is None:
            continue
        row.plan = True
        review = str(_extension(plan, _REVIEW_URL).get("valueDate", ""))
        if review and (not row.plan_review or review < row.plan_review):
            row.plan_review = review
            row.plan_overdue = review < today.isoformat()


def _cpr(rows: dict[str, RegisterRow], bundle: dict[str, Any], today: date) -> None:
    flags = sorted(_resources(bundle, "Flag"),
                   key=lambda f: str((f.get("period") or {}).get("start", "")), reverse=True)
    for flag in flags:  # newest decision first; a second one is a conflict to show
        row = rows.get(_subject_id(flag))
        if row is None:
            continue
        code = next((str(c.get("code")) for c in (flag.get("code") or {}).get("coding") or []
                     if c.get("code") in _CPR), "")
        if row.cpr:
            row.notes.append(f"Another CPR decision is recorded: {_CPR.get(code, code)}.")
            continue
        row.cpr = _CPR.get(code, "CPR decision")
        row.cpr_review = str((flag.get("period") or {}).get("end", ""))[:10]
        row.cpr_past_review = bool(row.cpr_review) and row.cpr_review < today.isoformat()
