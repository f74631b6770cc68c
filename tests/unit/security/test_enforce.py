"""Which interaction a Bundle entry's request is, for the per-entry check."""

from __future__ import annotations

import pytest

from eolc_fhir.security.enforce import entry_interaction
from eolc_fhir.security.roles import operation_allows


@pytest.mark.parametrize(("method", "url", "expected"), [
    ("POST", "CarePlan", ("create", "CarePlan", None)),
    ("PUT", "CarePlan/c1", ("update", "CarePlan", "c1")),
    ("PUT", "CarePlan?identifier=x|1", ("conditional update", "CarePlan", None)),
    ("DELETE", "Flag/f1", ("delete", "Flag", "f1")),
    ("DELETE", "Flag?status=inactive", ("conditional delete", "Flag", None)),
    ("GET", "Patient/p1", ("read", "Patient", "p1")),
    ("GET", "Patient/p1/_history/2", ("vread", "Patient", "p1")),
    ("GET", "Patient/p1/_history", ("history-instance", "Patient", "p1")),
    ("GET", "Patient?identifier=x|1", ("search-type", "Patient", None)),
    ("GET", "/Flag?_include=Flag:subject", ("search-type", "Flag", None)),
    ("POST", "Patient/$validate", ("operation", "Patient", None)),
    ("GET", "Patient/p1/$wishes", ("operation", "Patient", "p1")),
])
def test_entry_interactions(method: str, url: str,
                            expected: tuple[str, str | None, str | None]) -> None:
    target = entry_interaction(method, url)
    assert (target.interaction, target.resource_type, target.resource_id) == expected


@pytest.mark.parametrize(("operation", "role", "allowed"), [
    ("wishes", "ambulance", True), ("wishes", "care-home", True), ("wishes", "gp", True),
    ("wishes", "admin", False), ("everything", "hospice", True),
    ("everything", "ambulance", False), ("everything", "care-home", False),
    ("validate", "ambulance", True),  # operations without a role rule: the scope decides
])
def test_operation_role_rule(operation: str, role: str, allowed: bool) -> None:
    assert operation_allows(role, operation) is allowed
