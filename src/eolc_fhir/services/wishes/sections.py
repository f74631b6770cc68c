"""The sections of the $wishes document: what to show, its plain-text narrative, warnings.

Pure functions over already-decoded resources (no I/O). ``build_sections``
returns the sections in order of urgency, docs/clinical-content.md (the warnings section
is added by ``services.wishes`` in front), the warnings found, and the keys
of the resources the sections reference.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape
from typing import Any

__all__ = ["Found", "Warning", "Section", "build_sections", "SECTION_CODES", "WARNINGS",
           "div", "BASE", "is_past",
           "current_episode", "ref"]

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


def _codes(concept: Any) -> set[str]:
    if not isinstance(concept, dict):
        return set()
    return {str(c.get("code")) for c in concept.get("coding") or [] if isinstance(c, dict)}


def _any_codes(concepts: Any) -> set[str]:
    return set().union(*(_codes(c) for c in concepts or []))


def _text(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if coding.get("display"):
            return str(coding["display"])
    return next((str(c.get("code")) for c in concept.get("coding") or []), "")


def _ext(resource: dict[str, Any], name: str) -> Any:
    for ext in resource.get("extension") or []:
        if ext.get("url") == _EXT + name:
            return next((v for k, v in ext.items() if k.startswith("value")), None)
    return None


def _e(value: Any) -> str:
    return escape(str(value), quote=False)


def _phones(resource: dict[str, Any] | None) -> str:
    if not resource:
        return ""
    values = [t.get("value") for t in resource.get("telecom") or [] if t.get("system") == "phone"]
    return ", ".join(_e(v) for v in values if v)


def _name(resource: dict[str, Any] | None, fallback: str = "") -> str:
    if not resource:
        return _e(fallback)
    name = resource.get("name")
    if isinstance(name, str):
        return _e(name)
    first = (name or [{}])[0]
    if first.get("text"):
        return _e(first["text"])
    parts = [*(first.get("prefix") or []), *(first.get("given") or []), first.get("family", "")]
    return _e(" ".join(p for p in parts if p)) or _e(fallback)


def _latest(items: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    return max(items, key=lambda r: str(r.get(key) or ""), default=None)


def cpr_section(found: Found, warnings: list[Warning]) -> Section:
    flags = [f for f in found.of("Flag") if f.get("status") == "active"
             and _codes(f.get("code")) & CPR_CODES.keys()]
    flags.sort(key=lambda f: str((f.get("period") or {}).get("start", "")), reverse=True)
    lines = []
    for flag in flags:
        period = flag.get("period") or {}
        what = CPR_CODES[sorted(_codes(flag.get("code")) & CPR_CODES.keys())[0]]
        author = found.resolve(flag.get("author"))
        line = (f"<b>{_e(what)}</b>. Decided {_e(str(period.get('start', '?'))[:10])} by "
                f"{_name(author, (flag.get('author') or {}).get('display', 'unknown'))}. "
                f"Review due {_e(str(period.get('end', '?'))[:10])}.")
        if is_past(period.get("end"), found.today):
            line += " <b>PAST ITS REVIEW DATE: treat as needing review, not as valid.</b>"
            warnings.append(Warning("cpr-review-overdue", f"{what}: review was due "
                                    f"{str(period.get('end'))[:10]}", [ref(flag)]))
        lines.append(line)
    if len(flags) > 1:
        warnings.append(Warning("cpr-conflict", f"{len(flags)} active CPR decisions are "
                                "recorded; check which one stands", [ref(f) for f in flags]))
        lines.insert(0, "<b>CONFLICT: more than one active CPR decision is recorded.</b>")
    return Section("cpr-decision", lines or ["No CPR decision recorded."], flags)


def respect_section(found: Found) -> Section:
    forms = [d for d in found.of("DocumentReference") if d.get("status") == "current"
             and RESPECT_TYPE in _codes(d.get("type"))]
    form = _latest(forms, "date")
    if form is None:
        return Section("respect", ["No ReSPECT form recorded."], [])
    priority = _ext(form, "eolc-respect-care-priority")
    lines = [f"ReSPECT form of {_e(str(form.get('date', '?'))[:10])}."]
    if priority is not None:
        lines.append(f"Care priority <b>{_e(priority)} of 10</b> (0: living as long as possible "
                     "matters most; 10: quality of life and comfort matter most).")
    if form.get("description"):
        lines.append(f"Recommendations: {_e(form['description'])}")
    for content in form.get("content") or []:
        attachment = content.get("attachment") or {}
        if attachment.get("url") or attachment.get("title"):
            lines.append(f"Form: {_e(attachment.get('title') or '')} "
                         f"{_e(attachment.get('url') or '')}".strip())
    return Section("respect", lines, [form])


def adrt_section(found: Found) -> Section:
    decisions = [c for c in found.of("Consent") if c.get("status") == "active"
                 and _any_codes(c.get("category")) & ADRT_CODES]
    lines = []
    for adrt in decisions:
        refused = ", ".join(_e(_text(c)) for c in (adrt.get("provision") or {}).get("code") or [])
        source = adrt.get("sourceAttachment") or {}
        where = source.get("title") or source.get("url") or \
            (adrt.get("sourceReference") or {}).get("display") or \
            (adrt.get("sourceReference") or {}).get("reference") or "not recorded"
        lines.append(f"<b>Refuses: {refused or 'see document'}</b>. Made "
                     f"{_e(str(adrt.get('dateTime', '?'))[:10])}. Document: {_e(where)}.")
    return Section("adrt", lines or ["No advance decision to refuse treatment recorded."],
                   decisions)


def lpa_section(found: Found) -> Section:
    holders = [p for p in found.of("RelatedPerson") if p.get("active", True) is not False
               and "lpa-health-and-welfare" in _any_codes(p.get("relationship"))]
    lines = []
    for holder in holders:
        authority = _ext(holder, "eolc-lpa-life-sustaining-authority")
        says = {True: "may decide on life-sustaining treatment",
                False: "may NOT decide on life-sustaining treatment"}.get(authority, "")
        lines.append(f"<b>{_name(holder)}</b>, phone {_phones(holder) or 'not recorded'}"
                     f"{'; ' + says if says else ''}.")
    return Section("lpa", lines or ["No lasting power of attorney recorded."], holders)


_LIVE_OBSERVATION = {"final", "amended", "corrected", "preliminary"}


def places_section(found: Found, warnings: list[Warning]) -> Section:
    chosen: dict[tuple[str, int], dict[str, Any]] = {}
    for obs in found.of("Observation"):
        codes = _codes(obs.get("code"))
        kind = next((k for k in ("preferred-place-of-death", "preferred-place-of-care")
                     if k in codes), None)
        if kind is None or obs.get("status") not in _LIVE_OBSERVATION:
            continue
        rank = _ext(obs, "eolc-preference-rank")
        key = (kind, rank if isinstance(rank, int) else 99)
        when = str(obs.get("effectiveDateTime") or (obs.get("effectivePeriod") or {}).get(
            "start", ""))
        current = chosen.get(key)
        if current is None or when > str(current.get("effectiveDateTime") or ""):
            chosen[key] = obs
    lines, entries = [], []
    for place_kind, rank in sorted(chosen, key=lambda k: (k[0] != "preferred-place-of-care", k[1])):
        obs = chosen[(place_kind, rank)]
        death = place_kind.endswith("death")
        label = "Preferred place of death" if death else "Preferred place of care"
        which = {1: "first choice", 2: "second choice"}.get(rank, "choice")
        place = _text(obs.get("valueCodeableConcept"))
        lines.append(f"{label}, {which}: <b>{_e(place)}</b>.")
        entries.append(obs)
    if ("preferred-place-of-death", 1) not in chosen:
        lines.insert(0, "<b>No first-choice preferred place of death is recorded.</b>")
        warnings.append(Warning("no-first-choice-place-of-death",
                                "no first-choice preferred place of death is recorded"))
    return Section("preferred-places", lines, entries)


def medicines_section(found: Found) -> Section:
    items = [m for t in ("MedicationRequest", "MedicationStatement") for m in found.of(t)
             if m.get("status") == "active"]
    lines = []
    for item in items:
        what = _text(item.get("medicationCodeableConcept")) or "medicines"
        notes = " ".join(_e(n.get("text", "")) for n in item.get("note") or [])
        lines.append(f"{_e(what)}.{' Kept: ' + notes if notes else ''}")
    return Section("anticipatory-medicines", lines or ["No anticipatory medicines recorded."],
                   items)


_OPEN_EPISODE = ("active", "onhold", "waitlist", "planned")


def current_episode(found: Found) -> dict[str, Any] | None:
    """The open episode that coordinates care now: active first, then the latest start."""
    episodes = [e for e in found.of("EpisodeOfCare") if e.get("status") in _OPEN_EPISODE]
    episodes.sort(key=lambda e: str((e.get("period") or {}).get("start", "")), reverse=True)
    episodes.sort(key=lambda e: _OPEN_EPISODE.index(e["status"]))  # stable: keeps latest first
    return episodes[0] if episodes else None


def contacts_section(found: Found, patients: list[dict[str, Any]]) -> Section:
    lines, entries = [], []
    episode = current_episode(found)
    if episode is not None:
        centre = found.resolve(episode.get("managingOrganization"))
        lines.append(f"<b>24/7 contact: {_name(centre, 'coordinating team')}, "
                     f"phone {_phones(centre) or 'not recorded'}</b> "
                     f"(episode {_e(episode.get('status'))}).")
        manager = found.resolve(episode.get("careManager"))
        if manager or episode.get("careManager"):
            lines.append(f"Key worker: {_name(manager, episode['careManager'].get('display', ''))}"
                         f", phone {_phones(manager) or 'not recorded'}.")
        entries += [r for r in (episode, centre, manager) if r]
        for team_ref in episode.get("team") or []:
            team = found.resolve(team_ref)
            if team:
                members = ", ".join(_e((p.get("member") or {}).get("display", ""))
                                    for p in team.get("participant") or [])
                lines.append(f"Care team: {members}.")
                entries.append(team)
    for patient in patients:
        for gp_ref in patient.get("generalPractitioner") or []:
            gp = found.resolve(gp_ref)
            if gp and gp not in entries:
                lines.append(f"GP practice: {_name(gp)}, phone {_phones(gp) or 'not recorded'}.")
                entries.append(gp)
    return Section("contacts", lines or ["No coordinating team recorded."], entries)


def register_section(found: Found) -> Section:
    flags = [f for f in found.of("Flag") if f.get("status") == "active"
             and _codes(f.get("code")) & REGISTER_CODES]
    lines = []
    for flag in flags:
        prognosis = _text(_ext(flag, "eolc-prognosis")) or "not recorded"
        lines.append(f"{_e(_text(flag.get('code')))} since "
                     f"{_e(str((flag.get('period') or {}).get('start', '?'))[:10])}. "
                     f"Prognosis: <b>{_e(prognosis)}</b>.")
    return Section("register", lines or ["Not on the end of life care register."], flags)


def what_matters_section(found: Found, warnings: list[Warning]) -> Section:
    plans = [p for p in found.of("CarePlan") if p.get("status") == "active"
             and ACP_CATEGORY in _any_codes(p.get("category"))]
    plan = _latest(plans, "created")
    if plan is None:
        return Section("what-matters", ["No advance care plan recorded."], [])
    lines = [f"<b>{_e(n['text'])}</b>" for n in plan.get("note") or [] if n.get("text")]
    if plan.get("description"):
        lines.append(_e(plan["description"]))
    for activity in plan.get("activity") or []:
        detail = activity.get("detail") or {}
        prefix = "Does NOT want: " if detail.get("doNotPerform") else "Wants: "
        why = f" ({_e(detail['description'])})" if detail.get("description") else ""
        lines.append(f"{prefix}{_e(_text(detail.get('code')))}{why}.")
    review = _ext(plan, "eolc-review-date")
    lines.append(f"Plan of {_e(plan.get('created', '?'))}, review by {_e(review or '?')}.")
    if is_past(review, found.today):
        warnings.append(Warning("acp-review-overdue", f"the advance care plan was due for "
                                f"review on {review}", [ref(plan)]))
    return Section("what-matters", lines, [plan])


def consent_section(found: Found, warnings: list[Warning]) -> Section:
    consents = [c for c in found.of("Consent") if _any_codes(c.get("category")) &
                {SHARE_GIVEN, SHARE_WITHDRAWN, SHARE_BEST_INTERESTS}
                and c.get("status") != "entered-in-error"]
    latest = _latest(consents, "dateTime")
    if latest is None:
        return Section("consent", ["No consent to share recorded."], [])
    withdrawn = SHARE_WITHDRAWN in _any_codes(latest.get("category")) or \
        latest.get("status") in ("inactive", "rejected")
    when = _e(str(latest.get("dateTime", "?"))[:10])
    if withdrawn:
        warnings.append(Warning("consent-withdrawn", "consent to share the coordination record "
                                "has been withdrawn", [ref(latest)]))
        return Section("consent", [f"<b>Consent to share WITHDRAWN</b> on {when}."], [latest])
    return Section("consent", [f"{_e(_text((latest.get('category') or [{}])[0]))} ({when})."],
                   [latest])


def build_sections(found: Found, patients: list[dict[str, Any]]
                   ) -> tuple[list[Section], list[Warning]]:
    """Every section after the warnings, in order of urgency, and the warnings found."""
    warnings: list[Warning] = []
    sections = [
        cpr_section(found, warnings),
        respect_section(found),
        adrt_section(found),
        lpa_section(found),
        places_section(found, warnings),
        medicines_section(found),
        contacts_section(found, patients),
        register_section(found),
        what_matters_section(found, warnings),
        consent_section(found, warnings),
    ]
    return sections, warnings
