"""Synthetic resources for load scenarios (about 2 KB each, like the reads the floor measured)."""

from __future__ import annotations

import json
import random

__all__ = ["synthetic_patient", "nhs_number"]

_GIVEN = ["Ada", "Bryn", "Cerys", "Dafydd", "Elin", "Ffion", "Gareth", "Hywel", "Iolo", "Jac"]
_FAMILY = ["Jones", "Williams", "Davies", "Evans", "Thomas", "Roberts", "Hughes", "Lewis"]
_TOWNS = ["Cardiff", "Swansea", "Newport", "Wrexham", "Bangor", "Aberystwyth"]


def nhs_number(rng: random.Random) -> str:
    """A 10-digit number with a valid modulus 11 check digit."""
    while True:
        digits = [rng.randint(0, 9) for _ in range(9)]
        check = 11 - sum(d * (10 - i) for i, d in enumerate(digits)) % 11
        if check == 11:
            check = 0
        if check != 10:
            return "".join(map(str, digits)) + str(check)


def synthetic_patient(seed: int) -> dict[str, object]:
    """A plausible Patient of roughly 2 KB, deterministic for a given seed."""
    rng = random.Random(seed)
    given, family, town = rng.choice(_GIVEN), rng.choice(_FAMILY), rng.choice(_TOWNS)
    return {
        "resourceType": "Patient",
        "text": {
            "status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{given} Mair {family}, '
            f"born {seed % 28 + 1} March, lives in {town}. Preferred language Welsh. "
            "Next of kin: Rhiannon (daughter), mobile 07700 900123.</p></div>",
        },
        "identifier": [
            {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs_number(rng)},
            {"system": "urn:oid:2.16.840.1.113883.2.1.3.2.4.18.48", "value": f"H{seed:08d}"},
        ],
        "active": True,
        "name": [
            {"use": "official", "family": family, "given": [given, "Mair"], "prefix": ["Mx"]},
            {"use": "usual", "given": [given[:3]]},
        ],
        "telecom": [
            {"system": "phone", "value": f"0{rng.randint(10**9, 10**10 - 1)}", "use": "home"},
            {"system": "phone", "value": f"07{rng.randint(10**8, 10**9 - 1)}", "use": "mobile"},
            {"system": "email", "value": f"{given.lower()}.{family.lower()}@example.org"},
        ],
        "gender": rng.choice(["female", "male", "other", "unknown"]),
        "birthDate": f"19{rng.randint(20, 60)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "address": [
            {
                "use": "home",
                "type": "physical",
                "line": [f"{rng.randint(1, 200)} Heol y Bont", "Treganna"],
                "city": town,
                "district": "South Glamorgan",
                "postalCode": f"CF{rng.randint(1, 99)} {rng.randint(1, 9)}AB",
                "country": "GB",
                "period": {"start": "2001-04-01"},
            }
        ],
        "maritalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
                    "code": "W",
                    "display": "Widowed",
                }
            ]
        },
        "contact": [
            {
                "relationship": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v2-0131",
                                "code": "N",
                                "display": "Next-of-Kin",
                            }
                        ]
                    }
                ],
                "name": {"family": family, "given": ["Rhiannon"]},
                "telecom": [{"system": "phone", "value": "07700900123", "use": "mobile"}],
                "address": {"line": ["3 Ffordd y Parc"], "city": town, "country": "GB"},
            }
        ],
        "communication": [
            {
                "language": {
                    "coding": [{"system": "urn:ietf:bcp:47", "code": "cy", "display": "Welsh"}]
                },
                "preferred": True,
            },
            {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "en"}]}},
        ],
        "generalPractitioner": [
            {"identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code",
                            "value": "W97001"},
             "display": "Meddygfa Treganna"}
        ],
    }


if __name__ == "__main__":
    print(len(json.dumps(synthetic_patient(1)).encode()))
