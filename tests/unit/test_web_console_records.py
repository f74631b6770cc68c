"""The console's pure parts: records in words, a person's facts, history rows, "still valid?"."""

from __future__ import annotations

from eolc_fhir.security import audit
from eolc_fhir.web import records
from eolc_fhir.web.history import history_of
from eolc_fhir.web.summary import Alert, CprStatus, WishesSummary
from eolc_fhir.web.validity import validity_of


def test_the_identifier_systems_are_the_servers() -> None:
    assert records.CLIENT_ID_SYSTEM == audit.CLIENT_ID_SYSTEM
    assert records.USER_SYSTEM == audit.USER_SYSTEM
    assert records.ODS_SYSTEM == audit.ODS_SYSTEM


def test_a_record_is_named_by_its_codes_when_known() -> None:
    sct = "http://snomed.info/sct"
    consent = {"category": [{"coding": [{"system": sct, "code": "882941000000102"}]}]}
    assert records.record_label("Consent", consent) == "Consent to share"
    assert records.record_label("Flag", {"code": {"coding": [{"code": "526631000000108"}]}}) \
        == "Register entry"
    assert records.record_label("Flag") == "Flag (CPR decision or register entry)"
    assert records.record_label("Basic") == "Basic"


def test_history_rows_name_the_app_the_person_and_the_next_page() -> None:
    def agent(kind: str, system: str, value: str) -> dict[str, object]:
        return {"type": {"coding": [{"code": kind}]},
                "who": {"identifier": {"system": system, "value": value}},
                "onBehalfOf": {"identifier": {"value": "CC001"}}}
    provenance = {"resourceType": "Provenance", "recorded": "2026-12-06T05:00:00Z",
                  "target": [{"reference": "CarePlan/c1/_history/2"}],
                  "activity": {"coding": [{"code": "UPDATE"}]},
                  "agent": [agent("author", audit.CLIENT_ID_SYSTEM, "eolc-console"),
                            agent("enterer", audit.USER_SYSTEM, "nurse")]}
    plan = {"resourceType": "CarePlan", "id": "c1", "category": [{"coding": [
        {"code": "736366004"}]}]}
    bundle = {"entry": [{"resource": provenance}, {"resource": plan}],
              "link": [{"relation": "next", "url": "http://x/Provenance?patient=p&_cursor=abc"}]}
    found = history_of(bundle)
    assert found.next_cursor == "abc"
    (row,) = found.rows
    assert (row.what, row.target, row.version) == ("Advance care plan updated", "CarePlan/c1",
                                                   "2")
    assert (row.app, row.person, row.organisation) == ("eolc-console", "nurse", "CC001")


def test_still_valid_says_what_to_check() -> None:
    def summary(kind: str, overdue: bool, *codes: str) -> WishesSummary:
        return WishesSummary("A", "unknown", "", None, "", "", CprStatus(kind, "", overdue, []),
                             [Alert(c, c, "", "high") for c in codes], [])
    fine = validity_of(summary("not-for-cpr", False))
    assert [(v.verdict, v.ok) for v in fine] == [
        ("in date", True), ("not withdrawn", True), ("not overdue", True)]
    lapsed = validity_of(summary("for-cpr", True, "consent-withdrawn", "acp-review-overdue"))
    assert [v.ok for v in lapsed] == [False, False, False]
    assert lapsed[1].verdict == "WITHDRAWN" and lapsed[2].verdict == "OVERDUE"
    assert not validity_of(summary("none", False))[0].ok
