"""The sections of the $wishes document: what to show, its plain-text narrative, warnings.

Pure functions over already-decoded resources (no I/O). ``build_sections``
returns the sections in order of urgency, docs/clinical-content.md (the warnings section
is added by ``services.wishes`` in front), the warnings found, and the keys
of the resources the sections reference.
"""

from __future__ import annotations

from typing import Any

from eolc_fhir.services.wishes.death import place_of_death, readable_time
from eolc_fhir.services.wishes.parts import (
    ACP_CATEGORY,
    ADRT_CODES,
    BASE,
    CPR_CODES,
    REGISTER_CODES,
    RESPECT_TYPE,
    SECTION_CODES,
    SHARE_BEST_INTERESTS,
    SHARE_GIVEN,
    SHARE_WITHDRAWN,
    WARNINGS,
    Found,
    Section,
    Warning,
    any_codes,
    codes_of,
    div,
    esc,
    extension,
    is_past,
    latest_of,
    name_of,
    phones,
    ref,
    text_of,
)

__all__ = ["Found", "Warning", "Section", "build_sections", "SECTION_CODES", "WARNINGS",
           "div", "BASE", "is_past",
           "current_episode", "ref"]

def cpr_section(found: Found, warnings: list[Warning]) -> Section:
    flags = [f for f in found.of("Flag") if f.get("status") == "active"
             and codes_of(f.get("code")) & CPR_CODES.keys()]
    flags.sort(key=lambda f: str((f.get("period") or {}).get("start", "")), reverse=True)
    lines = []
    for flag in flags:
        period = flag.get("period") or {}
        what = CPR_CODES[sorted(codes_of(flag.get("code")) & CPR_CODES.keys())[0]]
        author = found.resolve(flag.get("author"))
        line = (f"<b>{esc(what)}</b>. Decided {esc(str(period.get('start', '?'))[:10])} by "
                f"{name_of(author, (flag.get('author') or {}).get('display', 'unknown'))}. "
                f"Review due {esc(str(period.get('end', '?'))[:10])}.")
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
             and RESPECT_TYPE in codes_of(d.get("type"))]
    form = latest_of(forms, "date")
    if form is None:
        return Section("respect", ["No ReSPECT form recorded."], [])
    priority = extension(form, "eolc-respect-care-priority")
    lines = [f"ReSPECT form of {esc(str(form.get('date', '?'))[:10])}."]
    if priority is not None:
        lines.append(f"Care priority <b>{esc(priority)} of 10</b> (0: living as long as possible "
                     "matters most; 10: quality of life and comfort matter most).")
    if form.get("description"):
        lines.append(f"Recommendations: {esc(form['description'])}")
    for content in form.get("content") or []:
        attachment = content.get("attachment") or {}
        if attachment.get("url") or attachment.get("title"):
            lines.append(f"Form: {esc(attachment.get('title') or '')} "
                         f"{esc(attachment.get('url') or '')}".strip())
    return Section("respect", lines, [form])


def adrt_section(found: Found) -> Section:
    decisions = [c for c in found.of("Consent") if c.get("status") == "active"
                 and any_codes(c.get("category")) & ADRT_CODES]
    lines = []
    for adrt in decisions:
        codes = (adrt.get("provision") or {}).get("code") or []
        refused = ", ".join(esc(text_of(c)) for c in codes)
        source = adrt.get("sourceAttachment") or {}
        where = source.get("title") or source.get("url") or \
            (adrt.get("sourceReference") or {}).get("display") or \
            (adrt.get("sourceReference") or {}).get("reference") or "not recorded"
        lines.append(f"<b>Refuses: {refused or 'see document'}</b>. Made "
                     f"{esc(str(adrt.get('dateTime', '?'))[:10])}. Document: {esc(where)}.")
    return Section("adrt", lines or ["No advance decision to refuse treatment recorded."],
                   decisions)


def lpa_section(found: Found) -> Section:
    holders = [p for p in found.of("RelatedPerson") if p.get("active", True) is not False
               and "lpa-health-and-welfare" in any_codes(p.get("relationship"))]
    lines = []
    for holder in holders:
        authority = extension(holder, "eolc-lpa-life-sustaining-authority")
        says = {True: "may decide on life-sustaining treatment",
                False: "may NOT decide on life-sustaining treatment"}.get(authority, "")
        lines.append(f"<b>{name_of(holder)}</b>, phone {phones(holder) or 'not recorded'}"
                     f"{'; ' + says if says else ''}.")
    return Section("lpa", lines or ["No lasting power of attorney recorded."], holders)


_LIVE_OBSERVATION = {"final", "amended", "corrected", "preliminary"}


def places_section(found: Found, warnings: list[Warning]) -> Section:
    chosen: dict[tuple[str, int], dict[str, Any]] = {}
    for obs in found.of("Observation"):
        codes = codes_of(obs.get("code"))
        kind = next((k for k in ("preferred-place-of-death", "preferred-place-of-care")
                     if k in codes), None)
        if kind is None or obs.get("status") not in _LIVE_OBSERVATION:
            continue
        rank = extension(obs, "eolc-preference-rank")
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
        place = text_of(obs.get("valueCodeableConcept"))
        lines.append(f"{label}, {which}: <b>{esc(place)}</b>.")
        entries.append(obs)
    if ("preferred-place-of-death", 1) not in chosen:
        lines.insert(0, "<b>No first-choice preferred place of death is recorded.</b>")
        warnings.append(Warning("no-first-choice-place-of-death",
                                "no first-choice preferred place of death is recorded"))
    died = place_of_death(found)
    if died is not None:  # what happened, beside what was wished
        lines.insert(0, f"<b>Died at: {esc(text_of(died.get('valueCodeableConcept')))}</b> "
                        f"({esc(readable_time(died.get('effectiveDateTime')))}).")
        entries.insert(0, died)
    return Section("preferred-places", lines, entries)


def medicines_section(found: Found) -> Section:
    items = [m for t in ("MedicationRequest", "MedicationStatement") for m in found.of(t)
             if m.get("status") == "active"]
    lines = []
    for item in items:
        what = text_of(item.get("medicationCodeableConcept")) or "medicines"
        notes = " ".join(esc(n.get("text", "")) for n in item.get("note") or [])
        lines.append(f"{esc(what)}.{' Kept: ' + notes if notes else ''}")
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
        lines.append(f"<b>24/7 contact: {name_of(centre, 'coordinating team')}, "
                     f"phone {phones(centre) or 'not recorded'}</b> "
                     f"(episode {esc(episode.get('status'))}).")
        manager = found.resolve(episode.get("careManager"))
        if manager or episode.get("careManager"):
            name = name_of(manager, episode["careManager"].get("display", ""))
            lines.append(f"Key worker: {name}, phone {phones(manager) or 'not recorded'}.")
        entries += [r for r in (episode, centre, manager) if r]
        for team_ref in episode.get("team") or []:
            team = found.resolve(team_ref)
            if team:
                members = ", ".join(esc((p.get("member") or {}).get("display", ""))
                                    for p in team.get("participant") or [])
                lines.append(f"Care team: {members}.")
                entries.append(team)
    for patient in patients:
        for gp_ref in patient.get("generalPractitioner") or []:
            gp = found.resolve(gp_ref)
            if gp and gp not in entries:
                lines.append(f"GP practice: {name_of(gp)}, phone {phones(gp) or 'not recorded'}.")
                entries.append(gp)
    return Section("contacts", lines or ["No coordinating team recorded."], entries)


def register_section(found: Found) -> Section:
    flags = [f for f in found.of("Flag") if f.get("status") == "active"
             and codes_of(f.get("code")) & REGISTER_CODES]
    lines = []
    for flag in flags:
        prognosis = text_of(extension(flag, "eolc-prognosis")) or "not recorded"
        lines.append(f"{esc(text_of(flag.get('code')))} since "
                     f"{esc(str((flag.get('period') or {}).get('start', '?'))[:10])}. "
                     f"Prognosis: <b>{esc(prognosis)}</b>.")
    return Section("register", lines or ["Not on the end of life care register."], flags)


def what_matters_section(found: Found, warnings: list[Warning]) -> Section:
    plans = [p for p in found.of("CarePlan") if p.get("status") == "active"
             and ACP_CATEGORY in any_codes(p.get("category"))]
    plan = latest_of(plans, "created")
    if plan is None:
        return Section("what-matters", ["No advance care plan recorded."], [])
    lines = [f"<b>{esc(n['text'])}</b>" for n in plan.get("note") or [] if n.get("text")]
    if plan.get("description"):
        lines.append(esc(plan["description"]))
    for activity in plan.get("activity") or []:
        detail = activity.get("detail") or {}
        prefix = "Does NOT want: " if detail.get("doNotPerform") else "Wants: "
        why = f" ({esc(detail['description'])})" if detail.get("description") else ""
        lines.append(f"{prefix}{esc(text_of(detail.get('code')))}{why}.")
    review = extension(plan, "eolc-review-date")
    lines.append(f"Plan of {esc(plan.get('created', '?'))}, review by {esc(review or '?')}.")
    if is_past(review, found.today):
        warnings.append(Warning("acp-review-overdue", f"the advance care plan was due for "
                                f"review on {review}", [ref(plan)]))
    return Section("what-matters", lines, [plan])


def consent_section(found: Found, warnings: list[Warning]) -> Section:
    consents = [c for c in found.of("Consent") if any_codes(c.get("category")) &
                {SHARE_GIVEN, SHARE_WITHDRAWN, SHARE_BEST_INTERESTS}
                and c.get("status") != "entered-in-error"]
    latest = latest_of(consents, "dateTime")
    if latest is None:
        return Section("consent", ["No consent to share recorded."], [])
    withdrawn = SHARE_WITHDRAWN in any_codes(latest.get("category")) or \
        latest.get("status") in ("inactive", "rejected")
    when = esc(str(latest.get("dateTime", "?"))[:10])
    if withdrawn:
        warnings.append(Warning("consent-withdrawn", "consent to share the coordination record "
                                "has been withdrawn", [ref(latest)]))
        return Section("consent", [f"<b>Consent to share WITHDRAWN</b> on {when}."], [latest])
    return Section("consent", [f"{esc(text_of((latest.get('category') or [{}])[0]))} ({when})."],
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
