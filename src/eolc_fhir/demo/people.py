"""One synthetic person on the register and everything the region records about them.

The mix mirrors the register: everyone has a register entry with a prognosis
and a consent-to-share record (a few withdrawn); about half an advance care
plan; most a CPR decision (some past their review date, a very few in
conflict); ReSPECT forms, preferred places, LPA holders, ADRTs, anticipatory
medicines and episodes of coordinated care in every state.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from eolc_fhir.demo.outcomes import fate_of, record_what_happened
from eolc_fhir.demo.region import Region, demo_id, ref
from eolc_fhir.demo.vocabulary import (
    BASE,
    CONCEPTS,
    CONSENT_SCOPE,
    EPISODE_TYPES,
    FAMILY,
    GIVEN_F,
    GIVEN_M,
    MEDICINES,
    NO_CHOICE,
    PLACE_TYPE,
    PLACES,
    PROGNOSIS,
    REFUSED,
    REGISTER,
    SCT,
    STREETS,
    VERIFICATION_CS,
    VERIFICATION_EXT,
    WHAT_MATTERS,
)
from eolc_fhir.fhir.nhs_number import NHS_NUMBER_SYSTEM, check_digit

__all__ = ["person_resources", "nhs_number", "NhsNumbers", "BASE"]

def nhs_number(rng: random.Random) -> str:
    """A valid NHS number (modulus 11) from the 999 range used for test data."""
    while True:
        first_nine = "999" + "".join(str(rng.randint(0, 9)) for _ in range(6))
        check = check_digit(first_nine)
        if check is not None:
            return first_nine + str(check)


class NhsNumbers:
    """Unique valid NHS numbers for a seed, the same sequence on every run."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.used: set[str] = set()

    def for_person(self, index: int) -> str:
        rng = random.Random(f"nhs:{self.seed}:{index}")
        while (number := nhs_number(rng)) in self.used:
            pass
        self.used.add(number)
        return number


def _sct(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": SCT, "code": code, "display": display}]}


def _ext(name: str, **value: Any) -> dict[str, Any]:
    return {"url": f"{BASE}/StructureDefinition/{name}", **value}


def _instant(day: date, rng: random.Random) -> str:
    return f"{day.isoformat()}T{rng.randint(8, 17):02d}:{rng.choice((0, 15, 30, 45)):02d}:00Z"


class _Person:
    """Builds one person's resources; ``out`` keeps them in dependency order."""

    def __init__(self, rng: random.Random, region: Region, index: int, today: date,
                 number: str) -> None:
        self.rng, self.region, self.index, self.today = rng, region, index, today
        self.number = number
        self.out: list[dict[str, Any]] = []
        self.practice = region.practices[index % len(region.practices)]
        self.gp = rng.choice(region.gps[self.practice["id"]])
        self.nurse = rng.choice(region.nurses)
        self.consultant = rng.choice(region.consultants)
        self.patient: dict[str, Any] = {}

    def _add(self, kind: str, resource: dict[str, Any]) -> dict[str, Any]:
        resource["id"] = demo_id(self.region.seed, f"{kind}:{self.index}")
        self.out.append(resource)
        return resource

    def _days_ago(self, low: int, high: int) -> date:
        return self.today - timedelta(days=self.rng.randint(low, high))

    def _subject(self) -> dict[str, Any]:
        return ref(self.patient, self._name())

    def _name(self) -> str:
        name = self.patient["name"][0]
        return f"{name['given'][0]} {name['family']}"

    def patient_resource(self) -> None:
        rng = self.rng
        female = rng.random() < 0.52
        given = rng.choice(GIVEN_F if female else GIVEN_M)
        age = min(104, max(18, int(rng.gauss(79, 10))))
        born = self.today - timedelta(days=age * 365 + rng.randint(0, 364))
        town = self.practice["address"][0]["city"]
        self.patient = self._add("patient", {
            "resourceType": "Patient",
            "meta": {"profile": [f"{BASE}/StructureDefinition/EolcPatient"]},
            "identifier": [{
                "extension": [{"url": VERIFICATION_EXT, "valueCodeableConcept": {"coding": [
                    {"system": VERIFICATION_CS, "code": "01",
                     "display": "Number present and verified"}]}}],
                "system": NHS_NUMBER_SYSTEM, "value": self.number}],
            "active": True,
            "name": [{"use": "official", "family": rng.choice(FAMILY), "given": [given]}],
            "telecom": [{"system": "phone", "value": f"01632 {rng.randint(960000, 960999)}",
                         "use": "home"}],
            "gender": "female" if female else "male",
            "birthDate": born.isoformat(),
            "address": [{"line": [f"{rng.randint(1, 120)} {rng.choice(STREETS)}"],
                         "city": town, "postalCode": f"RS{rng.randint(1, 9)} {rng.randint(1, 9)}"
                         f"{rng.choice('ABDEFGHJ')}{rng.choice('LNPQRSTU')}"}],
            "generalPractitioner": [ref(self.practice, self.practice["name"])],
        })

    def register_entry(self) -> None:
        code, display = self.rng.choice(REGISTER)
        prognosis = self.rng.choices(PROGNOSIS, weights=(3, 12, 45, 40))[0]
        self._add("register", {
            "resourceType": "Flag",
            "extension": [_ext("eolc-prognosis", valueCodeableConcept=_sct(*prognosis))],
            "status": "active",
            "category": [{"coding": [{"system":
                                      "http://terminology.hl7.org/CodeSystem/flag-category",
                                      "code": "clinical"}]}],
            "code": _sct(code, display),
            "subject": self._subject(),
            "period": {"start": self._days_ago(10, 600).isoformat()},
            "author": ref(self.practice, self.practice["name"]),
        })

    def consent_to_share(self) -> None:
        withdrawn = self.rng.random() < 0.03
        code, display = (("882941000000102", "Withdrawal of consent for sharing end of life "
                          "care coordination record") if withdrawn else
                         ("882921000000109", "Consent given for sharing end of life care "
                          "coordination record"))
        self._add("consent-share", {
            "resourceType": "Consent",
            "status": "active",
            "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "patient-privacy"}]},
            "category": [_sct(code, display)],
            "patient": self._subject(),
            "dateTime": _instant(self._days_ago(5, 500), self.rng),
            "organization": [ref(self.practice, self.practice["name"])],
            "policyRule": {"text": "Regional EPaCCS information sharing agreement"},
            "provision": {"type": "deny" if withdrawn else "permit"},
        })

    def respect_form(self) -> dict[str, Any] | None:
        if self.rng.random() >= 0.5:
            return None
        priority = self.rng.choices(range(11), weights=(1, 1, 1, 2, 3, 4, 5, 7, 9, 9, 8))[0]
        return self._add("respect", {
            "resourceType": "DocumentReference",
            "extension": [_ext("eolc-respect-care-priority", valueInteger=priority)],
            "status": "current",
            "type": _sct("1382601000000107",
                         "Recommended Summary Plan for Emergency Care and Treatment form"),
            "category": [_sct("734163000", "Care plan")],
            "subject": self._subject(),
            "date": _instant(self._days_ago(10, 300), self.rng),
            "author": [ref(self.consultant.resource, self.consultant.display)],
            "description": _respect_summary(priority),
            "content": [{"attachment": {
                "contentType": "application/pdf", "title": "ReSPECT form (signed)",
                "url": f"https://docs.riverside.example.org/respect/{self.index:06d}.pdf"}}],
        })

    def cpr_decisions(self, respect: dict[str, Any] | None) -> None:
        if respect is None and self.rng.random() >= 0.5:
            return
        conflicts = self.rng.random() < 0.01  # a data problem $wishes must surface
        for n in range(2 if conflicts else 1):
            not_for_cpr = self.rng.random() < 0.85 if n == 0 else True
            code = (("450476008", "Not for attempted cardiopulmonary resuscitation")
                    if not_for_cpr else
                    ("450475007", "For attempted cardiopulmonary resuscitation"))
            decided = self._days_ago(20, 400)
            overdue = self.rng.random() < 0.15
            review = (self.today - timedelta(days=self.rng.randint(1, 60)) if overdue
                      else self.today + timedelta(days=self.rng.randint(14, 180)))
            review = max(review, decided + timedelta(days=1))
            flag: dict[str, Any] = {
                "resourceType": "Flag",
                "status": "active",
                "category": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/flag-category",
                    "code": "clinical"}]}],
                "code": _sct(*code),
                "subject": self._subject(),
                "period": {"start": _instant(decided, self.rng), "end": review.isoformat()},
                "author": ref(self.consultant.resource, self.consultant.display),
            }
            if respect is not None:
                flag["extension"] = [_ext("eolc-decision-document",
                                          valueReference=ref(respect, "ReSPECT form"))]
            self._add(f"cpr:{n}", flag)

    def advance_care_plan(self) -> None:
        if self.rng.random() >= 0.5:
            return
        created = self._days_ago(5, 200)
        self._add("acp", {
            "resourceType": "CarePlan",
            "extension": [_ext("eolc-review-date", valueDate=(
                self.today + timedelta(days=self.rng.randint(7, 85))).isoformat())],
            "status": "active",
            "intent": "plan",
            "category": [_sct("736366004", "Advance care plan")],
            "title": "Advance care plan",
            "subject": self._subject(),
            "created": created.isoformat(),
            "author": ref(self.gp.resource, self.gp.display),
            "activity": [{"detail": {
                "code": {"text": "Admission to hospital"}, "status": "not-started",
                "doNotPerform": self.rng.random() < 0.6,
                "description": "Only if symptoms cannot be managed where I am."}}],
            "note": [{"text": self.rng.choice(WHAT_MATTERS)}],
        })

    def preferred_places(self) -> None:
        first_death = self.rng.random()
        if first_death < 0.72:
            self._place("ppd:1", "preferred-place-of-death", 1,
                        _place_value(self.rng.choices(PLACES, weights=(50, 25, 5, 12, 4, 4))[0]))
            if self.rng.random() < 0.35:
                self._place("ppd:2", "preferred-place-of-death", 2,
                            _place_value(self.rng.choice(PLACES[:2])))
        elif first_death < 0.85:
            code, display = self.rng.choice(NO_CHOICE)
            self._place("ppd:1", "preferred-place-of-death", 1, _sct(code, display))
        if self.rng.random() < 0.6:
            self._place("ppc:1", "preferred-place-of-care", 1,
                        _place_value(self.rng.choice(PLACES[:2])))

    def _place(self, kind: str, code: str, rank: int, value: dict[str, Any]) -> None:
        self._add(kind, {
            "resourceType": "Observation",
            "extension": [_ext("eolc-preference-rank", valuePositiveInt=rank)],
            "status": "final",
            "code": {"coding": [{"system": CONCEPTS, "code": code,
                                 "display": code.replace("-", " ").capitalize()}]},
            "subject": self._subject(),
            "effectiveDateTime": _instant(self._days_ago(5, 300), self.rng),
            "performer": [ref(self.nurse.resource, self.nurse.display)],
            "valueCodeableConcept": value,
        })

    def adrt(self) -> None:
        if self.rng.random() >= 0.1:
            return
        refused = self.rng.sample(REFUSED, self.rng.randint(1, 3))
        life = "Cardiopulmonary resuscitation" in refused or "Artificial ventilation" in refused
        category = (("816321000000109", "Has advance decision to refuse life sustaining "
                     "treatment") if life else
                    ("816301000000100", "Has advance decision to refuse treatment"))
        self._add("adrt", {
            "resourceType": "Consent",
            "status": "active",
            "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "adr"}]},
            "category": [_sct(*category)],
            "patient": self._subject(),
            "dateTime": _instant(self._days_ago(30, 900), self.rng),
            "sourceAttachment": {"title": self.rng.choice((
                "Signed original in the red folder by the front door",
                "Copy held by the GP practice; original with the patient",
                "Signed original in the kitchen drawer"))},
            "policyRule": {"text": "Mental Capacity Act 2005, sections 24-26"},
            "provision": {"type": "deny", "code": [{"text": t} for t in refused]},
        })

    def lpa(self) -> None:
        if self.rng.random() >= 0.25:
            return
        family = self.patient["name"][0]["family"]
        given = self.rng.choice(GIVEN_F + GIVEN_M)
        self._add("lpa", {
            "resourceType": "RelatedPerson",
            "extension": [_ext("eolc-lpa-life-sustaining-authority",
                               valueBoolean=self.rng.random() < 0.6)],
            "active": True,
            "patient": self._subject(),
            "relationship": [{"coding": [{
                "system": CONCEPTS, "code": "lpa-health-and-welfare",
                "display": "Lasting power of attorney for health and welfare"}]}],
            "name": [{"family": family, "given": [given]}],
            "telecom": [{"system": "phone", "value": f"07700 {self.rng.randint(900000, 900999)}",
                         "use": "mobile"}],
        })

    def episode(self) -> None:
        roll = self.rng.random()
        if roll >= 0.75:
            return
        status = "active" if roll < 0.5 else self.rng.choice(("onhold", "planned", "finished"))
        start = self._days_ago(30, 500)
        managing = (self.region.coordination_centre if self.rng.random() < 0.7
                    else self.region.hospice)
        team = self._add("careteam", {
            "resourceType": "CareTeam",
            "status": "active" if status != "finished" else "inactive",
            "name": f"Palliative care team for {self._name()}",
            "subject": self._subject(),
            "participant": [
                {"role": [_sct("719240009", "Has end of life care key worker")],
                 "member": ref(self.nurse.resource, self.nurse.display)},
                {"role": [_sct("309359006", "Palliative care physician")],
                 "member": ref(self.consultant.resource, self.consultant.display)},
                {"member": ref(self.gp.resource, self.gp.display)},
            ],
            "managingOrganization": [ref(managing, managing["name"])],
        })
        period: dict[str, Any] = {"start": start.isoformat()}
        if status == "finished":
            period["end"] = (start + timedelta(days=self.rng.randint(1, 29))).isoformat()
        self._add("episode", {
            "resourceType": "EpisodeOfCare",
            "status": status,
            "type": [_sct(*self.rng.choice(EPISODE_TYPES))],
            "patient": self._subject(),
            "managingOrganization": ref(managing, managing["name"]),
            "period": period,
            "careManager": ref(self.nurse.resource, self.nurse.display),
            "team": [ref(team, team["name"])],
        })

    def anticipatory_medicines(self) -> None:
        if self.rng.random() >= 0.3:
            return
        self._add("medicines", {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "category": [_sct("871021000000106",
                              "Prescription of palliative care anticipatory medication")],
            "medicationCodeableConcept": {"text": "; ".join(
                self.rng.sample(MEDICINES, self.rng.randint(2, 4)))},
            "subject": self._subject(),
            "authoredOn": self._days_ago(1, 120).isoformat(),
            "requester": ref(self.gp.resource, self.gp.display),
            "note": [{"text": self.rng.choice((
                "Just in case box kept in the kitchen cupboard",
                "Box kept on top of the wardrobe in the main bedroom",
                "Box held by the district nursing team"))}],
        })


def _place_value(place: tuple[str, str]) -> dict[str, Any]:
    return {"coding": [{"system": PLACE_TYPE, "code": place[0], "display": place[1]}]}


def _respect_summary(priority: int) -> str:
    if priority >= 7:
        return "Prioritise comfort; ward-based care only; not for CPR."
    if priority >= 4:
        return "Balance of comfort and treatment; for ward-based escalation."
    return "Prioritise sustaining life; for full escalation including intensive care."


def person_resources(region: Region, index: int, today: date,
                     number: str | None = None) -> list[dict[str, Any]]:
    """Every resource of person ``index`` in ``region``, the Patient first.

    Someone who died is built as they stood on the day they died (every record
    dated before it), then their outcome is added (``outcomes``)."""
    fate = fate_of(region.seed, index, today)
    rng = random.Random(f"person:{region.seed}:{index}")
    person = _Person(rng, region, index, fate.record_day or today, number or nhs_number(rng))
    person.patient_resource()
    person.register_entry()
    person.consent_to_share()
    respect = person.respect_form()
    person.cpr_decisions(respect)
    person.advance_care_plan()
    person.preferred_places()
    person.adrt()
    person.lpa()
    person.episode()
    person.anticipatory_medicines()
    return record_what_happened(region, index, today, fate, person.out)
