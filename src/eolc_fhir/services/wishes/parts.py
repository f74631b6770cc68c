"""The vocabulary and building blocks of the $wishes sections: codes, the Warning, Section
and Found shapes, and the helpers that write their plain-text narratives (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape
from typing import Any

__all__ = ["SHARE_GIVEN", "SHARE_WITHDRAWN", "SHARE_BEST_INTERESTS", "ACP_CATEGORY", "ADRT_CODES",
           "BASE", "CONCEPTS", "CPR_CODES", "Found", "HEADINGS", "REGISTER_CODES", "RESPECT_TYPE",
           "SCT", "SECTION_CODES", "SECTION_SYSTEM", "Section", "WARNINGS", "WARNING_SYSTEM",
           "Warning", "any_codes", "codes_of", "div", "esc", "extension", "is_past", "latest_of",
           "name_of", "phones", "ref", "text_of"]

BASE = "https://eolc.example.org/fhir"
SCT = "http://snomed.info/sct"
CONCEPTS = f"{BASE}/CodeSystem/eolc-concepts"
HEADINGS = "https://fhir.hl7.org.uk/CodeSystem/UKCore-RecordStandardHeadings"
SECTION_SYSTEM = f"{BASE}/CodeSystem/eolc-wishes-section"
WARNING_SYSTEM = f"{BASE}/CodeSystem/eolc-wishes-warning"
_EXT = f"{BASE}/StructureDefinition/"

# our section code -> (title, UK Core record heading)
SECTION_CODES: dict[str, tuple[str, str | None]] = {
    "warnings": ("Warnings", None),
    "cpr-decision": ("CPR decision", "plan-and-requested-actions"),
    "respect": ("ReSPECT recommendations", "plan-and-requested-actions"),
    "adrt": ("Advance decision to refuse treatment", "advance-decision-to-refuse-treatment"),
    "lpa": ("Lasting power of attorney", "lasting-power-of-attorney-for-health-and-welfare-or-"
            "court-appointed-deputy-or-equivalent"),
    "preferred-places": ("Preferred places of care and death",
                         "patient-and-carer-concerns-expectations-and-wishes"),
    "anticipatory-medicines": ("Anticipatory medicines",
                               "current-supportive-care-for-terminal-illness"),
    "contacts": ("24/7 contact and key worker", "professional-contacts"),
    "register": ("Register status and prognosis", "current-supportive-care-for-terminal-illness"),
    "what-matters": ("What matters to me", "patient-and-carer-concerns-expectations-and-wishes"),
    "consent": ("Consent to share", "consent-for-information-sharing"),
}
# warning code -> (display, DetectedIssue.severity)
WARNINGS: dict[str, tuple[str, str]] = {
    "deceased": ("This person has died", "high"),
    "cpr-review-overdue": ("CPR decision past its review date", "high"),
    "cpr-conflict": ("More than one active CPR decision", "high"),
    "no-first-choice-place-of-death": ("No first-choice preferred place of death", "moderate"),
    "consent-withdrawn": ("Consent to share withdrawn", "moderate"),
    "several-patients-match": ("Several patient records match", "high"),
    "acp-review-overdue": ("Advance care plan past its review date", "low"),
}
CPR_CODES = {"450476008": "NOT for attempted CPR (DNACPR)",
             "450475007": "FOR attempted CPR"}
REGISTER_CODES = {"526631000000108", "1403151000000103", "414937009"}
ADRT_CODES = {"816301000000100", "816321000000109"}
SHARE_GIVEN, SHARE_WITHDRAWN, SHARE_BEST_INTERESTS = (
    "882921000000109", "882941000000102", "882961000000101")
RESPECT_TYPE = "1382601000000107"
ACP_CATEGORY = "736366004"


@dataclass
class Warning:
    code: str
    detail: str
    implicated: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Section:
    code: str
    lines: list[str]  # XHTML fragments, already escaped
    entries: list[dict[str, Any]]  # the resources referenced

    def as_fhir(self) -> dict[str, Any]:
        title, heading = SECTION_CODES[self.code]
        coding = [{"system": SECTION_SYSTEM, "code": self.code, "display": title}]
        if heading:
            coding.append({"system": HEADINGS, "code": heading})
        section: dict[str, Any] = {"title": title, "code": {"coding": coding},
                                   "text": {"status": "generated", "div": div(self.lines)}}
        if self.entries:
            section["entry"] = [ref(r) for r in self.entries]
        else:
            section["emptyReason"] = {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
                "code": "nilknown", "display": "Nil Known"}]}
        return section


@dataclass
class Found:
    """A person's decoded resources by type, plus the resources they point to."""

    today: str  # YYYY-MM-DD (UTC)
    by_type: dict[str, list[dict[str, Any]]]
    others: dict[tuple[str, str], dict[str, Any]]  # (type, id) -> resource

    def of(self, rtype: str) -> list[dict[str, Any]]:
        return self.by_type.get(rtype, [])

    def resolve(self, reference: dict[str, Any] | None) -> dict[str, Any] | None:
        rtype, _, rid = str((reference or {}).get("reference", "")).partition("/")
        return self.others.get((rtype, rid)) if rid else None


def div(lines: Iterable[str]) -> str:
    body = "".join(f"<p>{line}</p>" for line in lines)
    return f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'


def ref(resource: dict[str, Any]) -> dict[str, str]:
    return {"reference": f"{resource['resourceType']}/{resource['id']}"}


def is_past(value: str | None, today: str) -> bool:
    return bool(value) and str(value)[:10] < today


def codes_of(concept: Any) -> set[str]:
    if not isinstance(concept, dict):
        return set()
    return {str(c.get("code")) for c in concept.get("coding") or [] if isinstance(c, dict)}


def any_codes(concepts: Any) -> set[str]:
    return set().union(*(codes_of(c) for c in concepts or []))


def text_of(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if coding.get("display"):
            return str(coding["display"])
    return next((str(c.get("code")) for c in concept.get("coding") or []), "")


def extension(resource: dict[str, Any], name: str) -> Any:
    for ext in resource.get("extension") or []:
        if ext.get("url") == _EXT + name:
            return next((v for k, v in ext.items() if k.startswith("value")), None)
    return None


def esc(value: Any) -> str:
    return escape(str(value), quote=False)


def phones(resource: dict[str, Any] | None) -> str:
    if not resource:
        return ""
    values = [t.get("value") for t in resource.get("telecom") or [] if t.get("system") == "phone"]
    return ", ".join(esc(v) for v in values if v)


def name_of(resource: dict[str, Any] | None, fallback: str = "") -> str:
    if not resource:
        return esc(fallback)
    name = resource.get("name")
    if isinstance(name, str):
        return esc(name)
    first = (name or [{}])[0]
    if first.get("text"):
        return esc(first["text"])
    parts = [*(first.get("prefix") or []), *(first.get("given") or []), first.get("family", "")]
    return esc(" ".join(p for p in parts if p)) or esc(fallback)


def latest_of(items: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    return max(items, key=lambda r: str(r.get(key) or ""), default=None)
