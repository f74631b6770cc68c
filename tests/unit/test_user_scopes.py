"""user/ scopes: parsed in their own context, and narrowed to what an app and a role allow."""

from __future__ import annotations

import pytest

from eolc_fhir.security.roles import default_scopes
from eolc_fhir.security.scopes import ScopeError, narrow, parse_scopes, split_identity


def test_each_flow_has_its_own_context() -> None:
    with pytest.raises(ScopeError):
        parse_scopes("user/*.rs")  # client_credentials: system/ only
    with pytest.raises(ScopeError):
        parse_scopes("system/*.rs", context="user")
    assert parse_scopes("user/*.rs system/CarePlan.r", context=None).allows("CarePlan", "s")


@pytest.mark.parametrize(("asked", "role", "granted"), [
    ("user/*.cruds", "commissioner", "user/*.rs"),
    ("user/*.cruds", "gp", "user/*.crus"),
    ("user/*.cruds", "ambulance", "user/*.rs user/Subscription.cu"),
    ("user/CarePlan.cruds", "ambulance", "user/CarePlan.rs"),
    ("user/Subscription.cruds", "care-home", "user/Subscription.crus"),
    ("user/*.read", "admin", "user/*.rs"),
    ("user/CarePlan.d", "gp", ""),
])
def test_granted_scopes_are_the_intersection(asked: str, role: str, granted: str) -> None:
    wanted = parse_scopes(asked, context="user")
    assert str(narrow(wanted, parse_scopes(default_scopes(role)))) == granted


def test_identity_scopes_are_set_apart() -> None:
    assert split_identity("fhirUser user/*.rs openid launch") == (
        ["openid", "fhirUser"], "user/*.rs launch")
