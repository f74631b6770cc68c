"""What each client role may do, as data: role -> permission letter -> resource types.

Roles come from the issue: ambulance and care-home read; gp, hospital and
hospice write clinical resources; the coordination centre reads everything
and manages Subscriptions and EpisodeOfCare; admin manages conformance
resources (Measures among them) and is the only role that deletes; the
commissioner has a population view: conformance resources, Measures and
MeasureReports, and ``$evaluate-measure`` summaries, never a patient's record.
A token needs BOTH its scope and its role to allow an interaction.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ROLES", "TypeSet", "role_allows", "default_scopes", "CONFORMANCE_TYPES",
           "AUDIT_TYPE", "OWNED_TYPES", "OPERATION_ROLES", "operation_allows",
           "POPULATION_TYPES", "PERSON_ROLES", "SUMMARY_OPERATIONS", "summary_only"]

AUDIT_TYPE = "AuditEvent"
# Resources that belong to the client that created them.
OWNED_TYPES = frozenset({"Subscription"})
CONFORMANCE_TYPES = frozenset({
    "CapabilityStatement", "CodeSystem", "CompartmentDefinition", "ConceptMap",
    "ImplementationGuide", "NamingSystem", "OperationDefinition", "SearchParameter",
    "StructureDefinition", "StructureMap", "SubscriptionTopic", "ValueSet", "Measure",
})
# What a population view reads: the definitions and the reports, no patient's record.
POPULATION_TYPES = CONFORMANCE_TYPES | {"MeasureReport"}


@dataclass(frozen=True)
class TypeSet:
    """Resource types: ``only`` (None = every type) minus ``but``."""

    only: frozenset[str] | None = None
    but: frozenset[str] = frozenset()

    def __contains__(self, rtype: object) -> bool:
        if rtype in self.but:
            return False
        return self.only is None or rtype in self.only


NOTHING = TypeSet(frozenset())
EVERYTHING = TypeSet()
READ_ALL_BUT_AUDIT = TypeSet(but=frozenset({AUDIT_TYPE}))
CLINICAL = TypeSet(but=CONFORMANCE_TYPES | {AUDIT_TYPE, "EpisodeOfCare"})
SUBSCRIPTIONS = TypeSet(OWNED_TYPES)

_READER = {"r": READ_ALL_BUT_AUDIT, "s": READ_ALL_BUT_AUDIT, "c": SUBSCRIPTIONS,
           "u": SUBSCRIPTIONS, "d": NOTHING}
_CLINICIAN = {"r": READ_ALL_BUT_AUDIT, "s": READ_ALL_BUT_AUDIT, "c": CLINICAL,
              "u": CLINICAL, "d": NOTHING}
# Hospices run coordinated-care episodes too (docs/clinical-content.md: managingOrganization).
_HOSPICE = {**_CLINICIAN, "c": TypeSet(but=CONFORMANCE_TYPES | {AUDIT_TYPE}),
            "u": TypeSet(but=CONFORMANCE_TYPES | {AUDIT_TYPE})}
_COORDINATION = {"r": EVERYTHING, "s": EVERYTHING,
                 "c": TypeSet(OWNED_TYPES | {"EpisodeOfCare"}),
                 "u": TypeSet(OWNED_TYPES | {"EpisodeOfCare"}), "d": NOTHING}
_COMMISSIONER = {"r": TypeSet(POPULATION_TYPES), "s": TypeSet(POPULATION_TYPES),
                 "c": NOTHING, "u": NOTHING, "d": NOTHING}
_ADMIN = {"r": EVERYTHING, "s": EVERYTHING, "c": TypeSet(CONFORMANCE_TYPES | OWNED_TYPES),
          "u": TypeSet(CONFORMANCE_TYPES | OWNED_TYPES), "d": TypeSet(but=frozenset({AUDIT_TYPE}))}

ROLES: dict[str, dict[str, TypeSet]] = {
    "gp": _CLINICIAN,
    "hospital": _CLINICIAN,
    "hospice": _HOSPICE,
    "ambulance": _READER,
    "care-home": _READER,
    "coordination-centre": _COORDINATION,
    "commissioner": _COMMISSIONER,
    "admin": _ADMIN,
}

_DEFAULT_SCOPES = {
    "gp": "system/*.crus", "hospital": "system/*.crus", "hospice": "system/*.crus",
    "ambulance": "system/*.rs system/Subscription.cru",
    "care-home": "system/*.rs system/Subscription.cru",
    "coordination-centre": "system/*.rs system/Subscription.cru system/EpisodeOfCare.cru",
    "commissioner": "system/*.rs",
    "admin": "system/*.cruds",
}


# A person signed in through an app (the authorization code flow) may be held to less
# than their organisation's systems. A crew member at the door sees the summary only:
# they find the person (Patient search, by NHS number) and read $wishes, the document
# built for them, but no clinical resource on its own. Their Subscriptions stay theirs.
_SUMMARY_TYPES = TypeSet(CONFORMANCE_TYPES | OWNED_TYPES | {"Patient"})
_CREW = {"r": _SUMMARY_TYPES, "s": _SUMMARY_TYPES, "c": SUBSCRIPTIONS, "u": SUBSCRIPTIONS,
         "d": NOTHING}
PERSON_ROLES: dict[str, dict[str, TypeSet]] = {"ambulance": _CREW}
# Operations whose answer IS the summary: a summary-only person may read every type in it.
SUMMARY_OPERATIONS = frozenset({"wishes"})


def summary_only(role: str, person: bool) -> bool:
    """Is a caller of ``role`` (a person, or a system) held to the summary?"""
    return person and PERSON_ROLES.get(role) is _CREW


_CLINICAL_ROLES = frozenset({"gp", "hospital", "hospice", "coordination-centre"})
# Patient operations limited beyond the read scope they need: $wishes is the crews'
# and carers' question; $everything the whole record, for those who treat the person;
# $export the region's data in bulk, for those who watch the whole region (docs/api.md).
OPERATION_ROLES: dict[str, frozenset[str]] = {
    "wishes": _CLINICAL_ROLES | {"ambulance", "care-home"},
    "everything": _CLINICAL_ROLES,
    "export": frozenset({"admin", "coordination-centre"}),
    # Summaries for the population view; subject lists and individual reports also need
    # patient-level read, which the service checks (services/measures/evaluate.py).
    "evaluate-measure": _CLINICAL_ROLES | {"commissioner", "admin"},
}


def operation_allows(role: str, operation: str | None) -> bool:
    """May a client of ``role`` call ``$operation`` (operations not listed: any role)?"""
    allowed = OPERATION_ROLES.get(operation or "")
    return allowed is None or role in allowed


def role_allows(role: str, letter: str, rtype: str, person: bool = False) -> bool:
    """Does ``role`` allow ``letter`` on ``rtype`` (for a signed-in ``person``, the
    person's rules where they differ from their organisation's systems)?"""
    rules = (PERSON_ROLES.get(role) if person else None) or ROLES.get(role)
    return rules is not None and rtype in rules.get(letter, NOTHING)


def default_scopes(role: str) -> str:
    """The scopes a client of ``role`` is registered with when none are given."""
    return _DEFAULT_SCOPES[role]
