"""The synthetic region's organisations and professionals, deterministic for a seed.

Every organisation carries a synthetic ODS code; the first of each kind uses
the code of the matching demo client (security/demo.py), so a newcomer's
demo-gp, demo-hospice, ... clients belong to organisations of the region.
Every professional has an SDS user id. Ids are UUIDv5 of the seed and a
stable key, so one seed always yields the same ids and two seeds never clash.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ODS_SYSTEM",
    "SDS_USER_SYSTEM",
    "Region",
    "Professional",
    "build_region",
    "demo_id",
    "ref",
]

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
SDS_USER_SYSTEM = "https://fhir.nhs.uk/Id/sds-user-id"
_NAMESPACE = uuid.UUID("8f6a7e3c-2b1d-5c4e-9a0f-e01c0000d3a0")  # fixed: ids stable forever

_TOWNS = ["Riverside", "Millbrook", "Ashford Vale", "Kingsmere", "Hollowell", "Stonebridge",
          "Larkfield", "Westcombe", "Oakhurst", "Fenbury"]
_PRACTICE_SUFFIX = ["Surgery", "Medical Centre", "Health Centre", "Family Practice"]
_GIVEN = ["Amara", "Ben", "Chloe", "Dev", "Eleanor", "Farid", "Grace", "Hamish", "Imogen",
          "Jonah", "Kiran", "Leah", "Malik", "Niamh", "Owen", "Priya", "Rhys", "Sana", "Tom",
          "Uma", "Victor", "Wen", "Yusuf", "Zara"]
_FAMILY = ["Okafor", "Patel", "Nowak", "Campbell", "Hughes", "Ahmed", "Fraser", "Kowalski",
           "Mensah", "Singh", "Reid", "Davies", "O'Neill", "Chen", "Murphy", "Ali"]


def demo_id(seed: int, key: str) -> str:
    """A stable id for ``key`` in the region of ``seed``."""
    return str(uuid.uuid5(_NAMESPACE, f"{seed}:{key}"))


def ref(resource: dict[str, Any], display: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"reference": f"{resource['resourceType']}/{resource['id']}"}
    if display:
        out["display"] = display
    return out


@dataclass
class Professional:
    """A Practitioner and where they work, with a display name for references."""

    resource: dict[str, Any]
    display: str
    organization: dict[str, Any]


@dataclass
class Region:
    seed: int
    coordination_centre: dict[str, Any]
    hospice: dict[str, Any]
    hospital: dict[str, Any]
    ambulance: dict[str, Any]
    hospitals: list[dict[str, Any]] = field(default_factory=list)  # the acute trust first
    practices: list[dict[str, Any]] = field(default_factory=list)
    gps: dict[str, list[Professional]] = field(default_factory=dict)  # practice id -> GPs
    nurses: list[Professional] = field(default_factory=list)  # hospice key workers
    consultants: list[Professional] = field(default_factory=list)  # palliative physicians

    def resources(self) -> list[dict[str, Any]]:
        """Organisations first (practitioners' references point to them)."""
        orgs = [self.coordination_centre, self.hospice, *self.hospitals, self.ambulance,
                *self.practices]
        people = [p.resource for group in self.gps.values() for p in group]
        people += [p.resource for p in (*self.nurses, *self.consultants)]
        return orgs + people


def _organization(seed: int, key: str, name: str, ods: str, phone: str,
                  org_type: str, town: str) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": demo_id(seed, f"org:{key}"),
        "identifier": [{"system": ODS_SYSTEM, "value": ods}],
        "active": True,
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                              "code": org_type}]}],
        "name": name,
        "telecom": [{"system": "phone", "value": phone, "use": "work"}],
        "address": [{"line": [f"{(len(name) * 7) % 90 + 1} High Street"], "city": town}],
    }


def _phone(rng: random.Random) -> str:
    return f"01632 {rng.randint(960000, 960999)}"  # Ofcom drama range: never a real line


def _practitioner(rng: random.Random, seed: int, key: str, prefix: str, role: str,
                  org: dict[str, Any]) -> Professional:
    given, family = rng.choice(_GIVEN), rng.choice(_FAMILY)
    resource: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": demo_id(seed, f"practitioner:{key}"),
        "identifier": [{"system": SDS_USER_SYSTEM, "value": f"{rng.randint(10**11, 10**12 - 1)}"}],
        "active": True,
        "name": [{"family": family, "given": [given], "prefix": [prefix] if prefix else []}],
        "telecom": [{"system": "phone", "value": _phone(rng), "use": "work"}],
        "qualification": [{"code": {"text": role}}],
    }
    if not prefix:
        resource["name"][0].pop("prefix")
    display = f"{prefix + ' ' if prefix else ''}{given} {family} ({role})"
    return Professional(resource, display, org)


def _practices(rng: random.Random, seed: int, count: int) -> list[dict[str, Any]]:
    practices = []
    for number in range(count):
        town = _TOWNS[number % len(_TOWNS)]
        name = f"{town} {_PRACTICE_SUFFIX[number % len(_PRACTICE_SUFFIX)]}"
        if number >= len(_TOWNS):
            name = f"{rng.choice(_FAMILY)} House {name}"
        ods = "Y01234" if number == 0 else f"Y9{number:04d}"
        practices.append(_organization(seed, f"practice:{number}", name, ods,
                                       _phone(rng), "prov", town))
    return practices


def build_region(seed: int, patients: int) -> Region:
    """Organisations and professionals sized for ``patients`` people on the register."""
    rng = random.Random(f"region:{seed}")
    region = Region(
        seed=seed,
        coordination_centre=_organization(
            seed, "coordination-centre", "Riverside 24/7 Palliative Care Coordination Centre",
            "CC001", "0300 555 0199", "prov", "Riverside"),
        hospice=_organization(seed, "hospice", "St Brigid's Hospice", "HSP01", _phone(rng),
                              "prov", "Millbrook"),
        hospital=_organization(seed, "hospital", "Riverside University Hospitals NHS Trust",
                               "RH801", _phone(rng), "prov", "Riverside"),
        ambulance=_organization(seed, "ambulance", "Riverside Ambulance Service NHS Trust",
                                "RYC01", "0300 555 0999", "prov", "Riverside"),
    )
    # A second acute hospital takes part of the emergency admissions; no draw of ``rng``
    # (every other organisation and professional stays as it was before it came).
    region.hospitals = [region.hospital, _organization(
        seed, "hospital:2", "Kingsmere General Hospital", "RK950", "01632 960555", "prov",
        "Kingsmere")]
    region.practices = _practices(rng, seed, max(3, min(40, patients // 500 + 2)))
    for practice in region.practices:
        region.gps[practice["id"]] = [
            _practitioner(rng, seed, f"gp:{practice['id']}:{n}", "Dr", "General practitioner",
                          practice)
            for n in range(2)
        ]
    region.nurses = [_practitioner(rng, seed, f"nurse:{n}", "", "Palliative care nurse",
                                   region.hospice) for n in range(max(4, patients // 300))]
    region.consultants = [_practitioner(rng, seed, f"consultant:{n}", "Dr",
                                        "Palliative care physician", region.hospital)
                          for n in range(max(3, patients // 1000))]
    return region
