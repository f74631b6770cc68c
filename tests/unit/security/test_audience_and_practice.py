"""The pure rules of who sees what: a subscriber's view of a change, a GP person's practice,
and an ambulance person's summary-only rule."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from eolc_fhir.fhir.errors import Forbidden
from eolc_fhir.security.audience import Focus, Owner, may_see, owner_from_text, owner_text
from eolc_fhir.security.policy import authorize
from eolc_fhir.security.practice import bound_practice, people_of, visible_mask
from eolc_fhir.security.principal import Principal
from eolc_fhir.security.scopes import parse_scopes
from eolc_fhir.storage.security_repo import Origin


def _principal(role: str, ods: str, user: str | None) -> Principal:
    scope = "user/*.rs" if user else "system/*.rs"
    return Principal("app", ods, role, parse_scopes(scope, context="user" if user else None),
                     0.0, user)


def _focus(rtype: str = "Flag", *, withdrawn: bool = False, recorded_by: str | None = "RH801",
           practices: frozenset[str] | None = frozenset({"Y01234"})) -> Focus:
    return Focus(rtype, frozenset({"p1"}), rtype == "Patient", withdrawn, recorded_by, practices)


def test_the_owner_view_round_trips_and_narrows_as_the_api_does() -> None:
    gp_person = owner_from_text(owner_text(_principal("gp", "Y01234", "dr-a")))
    assert gp_person == Owner("gp", "Y01234", True) and gp_person.practice == "Y01234"
    gp_system = owner_from_text(owner_text(_principal("gp", "Y01234", None)))
    assert gp_system is not None and gp_system.practice is None
    assert owner_from_text(None) is None and owner_from_text("not json") is None
    assert may_see(gp_person, _focus())
    assert not may_see(gp_person, _focus(practices=frozenset({"Y09999"})))
    assert may_see(gp_system, _focus(practices=frozenset({"Y09999"})))
    # Withdrawn consent: only the recording organisation; the Patient stays visible.
    assert not may_see(gp_system, _focus(withdrawn=True))
    assert may_see(Owner("hospital", "RH801", False), _focus(withdrawn=True))
    assert may_see(gp_system, _focus("Patient", withdrawn=True))
    assert may_see(Owner("admin", "EOLC1", True), _focus(withdrawn=True))
    assert may_see(None, _focus(withdrawn=True))  # ownerless: switched off at start anyway
    # Roles: an ambulance person hears of Patients, not of Flags; their systems of both.
    assert not may_see(Owner("ambulance", "RYC01", True), _focus())
    assert may_see(Owner("ambulance", "RYC01", True), _focus("Patient"))
    assert may_see(Owner("ambulance", "RYC01", False), _focus())


def test_a_gp_person_is_bound_to_their_practice_and_systems_are_not() -> None:
    assert bound_practice(_principal("gp", "Y01234", "dr-a")) == "Y01234"
    assert bound_practice(_principal("gp", "", "dr-a")) == "\0"  # no practice: nobody
    assert bound_practice(_principal("gp", "Y01234", None)) is None
    assert bound_practice(_principal("coordination-centre", "CC001", "nurse")) is None
    assert bound_practice(None) is None


def test_a_provenance_is_about_the_people_its_targets_are_about() -> None:
    provenance = {"resourceType": "Provenance", "target": [
        {"reference": "CarePlan/c1/_history/2"}, {"reference": "Patient/p2"}]}
    assert people_of(provenance) == ({"p2"}, {("CarePlan", "c1")})
    assert people_of({"resourceType": "Flag", "subject": {"reference": "Patient/p1"}}) == (
        {"p1"}, set())
    assert people_of({"resourceType": "Organization", "id": "o"}) == (set(), set())

    async def origins(keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Origin]:
        return {("CarePlan", "c1"): Origin("gp", "Y01234", "p1")}

    async def practices(ids: Sequence[str]) -> dict[str, frozenset[str]]:
        return {"p1": frozenset({"Y01234"}), "p3": frozenset({"Y09999"})}

    only_target = {"resourceType": "Provenance", "target": [{"reference": "CarePlan/c1"}]}
    resources = [only_target, {"resourceType": "Flag", "subject": {"reference": "Patient/p3"}},
                 {"resourceType": "Organization", "id": "o"}]
    assert asyncio.run(visible_mask("Y01234", resources, origins, practices)) == [
        True, False, True]


def test_an_ambulance_person_gets_the_summary_and_nothing_else() -> None:
    crew = _principal("ambulance", "RYC01", "crew-1")
    authorize(crew, "operation", "Patient", operation="wishes",
              reads=("Patient", "Flag", "CarePlan", "Consent"))
    authorize(crew, "search-type", "Patient")
    with pytest.raises(Forbidden, match="summary only"):
        authorize(crew, "search-type", "Flag")
    with pytest.raises(Forbidden):
        authorize(crew, "operation", "Patient", operation="everything")
    authorize(_principal("ambulance", "RYC01", None), "search-type", "Flag")  # its systems
