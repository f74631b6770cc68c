"""$wishes through the whole secured stack when the person has withdrawn consent to share."""

from __future__ import annotations

from eolc_fhir.services.wishes.document import document_cache
from tests.builders import (
    PATIENT_REF,
    make_consent_to_share,
    make_cpr_flag,
    make_patient,
)
from tests.security_support import SecureApp, secure, secure_settings

__all__ = ["secure", "secure_settings"]

WITHDRAWAL = {"coding": [{"system": "http://snomed.info/sct", "code": "882941000000102"}]}
NHS = "https://fhir.nhs.uk/Id/nhs-number|9912003888"  # make_patient()'s number
PID = PATIENT_REF["reference"].removeprefix("Patient/")  # what the builders refer to


async def test_a_crew_is_told_why_the_record_is_withheld(secure: SecureApp) -> None:
    gp = await secure.headers("gp")
    response = await secure.http.put(f"/{PATIENT_REF['reference']}",
                                     json={**make_patient(), "id": PID}, headers=gp)
    assert response.status_code == 201, response.text
    for resource in (make_cpr_flag(), make_consent_to_share(category=[WITHDRAWAL])):
        created = await secure.http.post(f"/{resource['resourceType']}", json=resource,
                                         headers=gp)
        assert created.status_code == 201, created.text

    ambulance = await secure.headers("ambulance")
    answer = await secure.http.get("/Patient/$wishes", params={"identifier": NHS},
                                   headers=ambulance)
    assert answer.status_code == 200, answer.text
    bundle = answer.json()
    assert bundle["type"] == "document"
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds[0] == "Composition", kinds  # a document starts with its Composition
    warnings = [c["code"] for e in bundle["entry"] if e["resource"]["resourceType"]
                == "DetectedIssue" for c in e["resource"]["code"]["coding"]]
    assert "consent-withdrawn" in warnings
    assert "Flag" not in kinds  # the CPR decision itself stays with its recorder


    # Kept for each view: the ambulance's narrowed document is served to the ambulance
    # again (the same Composition: not rebuilt), never to the practice that recorded the
    # decision, and the coordination centre has a view of its own.
    compositions: dict[str, set[str]] = {}
    for _ in range(2):
        for role, sees_flag in (("ambulance", False), ("gp", True), ("coordination-centre", False)):
            again = await secure.http.get("/Patient/$wishes", params={"identifier": NHS},
                                          headers=await secure.headers(role))
            assert again.status_code == 200, again.text
            entries = again.json()["entry"]
            kinds = [e["resource"]["resourceType"] for e in entries]
            assert ("Flag" in kinds) is sees_flag, (role, kinds)
            compositions.setdefault(role, set()).add(entries[0]["resource"]["id"])
    assert all(len(ids) == 1 for ids in compositions.values()), compositions
    assert len(set().union(*compositions.values())) == 3  # one document per view
    kept = [key[-1] for key in document_cache(secure.ctx)._entries if len(key) == 4]
    assert sorted(kept) == ["ods:CC001", "ods:RYC01", "ods:Y01234"]
