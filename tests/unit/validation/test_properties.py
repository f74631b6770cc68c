"""Property tests: the validator agrees with reference rules on generated inputs."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eolc_fhir.validation import ProfileSet
from tests.builders import BUILDERS, make_patient, profile_url
from tests.unit.validation.conftest import PROFILES_DIR

PROFILES = ProfileSet.load(PROFILES_DIR)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def nhs_number_is_valid(number: str) -> bool:
    """Reference implementation of the modulus-11 rule in docs/clinical-content.md."""
    if len(number) != 10 or not (number.isascii() and number.isdigit()):
        return False
    check = 11 - sum(int(d) * w for d, w in zip(number[:9], range(10, 1, -1), strict=True)) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(number[9])


@SETTINGS
@given(st.text(alphabet="0123456789", min_size=10, max_size=10) | st.text(max_size=12))
def test_nhs_number_invariant_matches_the_reference_rule(number: str) -> None:
    patient = make_patient()
    patient["identifier"][0]["value"] = number
    issues = PROFILES.validate(patient)
    assert (issues == []) == nhs_number_is_valid(number)


def _required_top_level() -> list[tuple[str, str]]:
    cases = []
    for name in BUILDERS:
        root = PROFILES.profile(profile_url(name)).root
        for child in root.children.values():
            if child.min >= 1 and not child.choice:
                cases.append((name, child.name))
    return cases


@SETTINGS
@given(st.sampled_from(_required_top_level()), st.booleans())
def test_removing_a_required_element_is_always_an_error_at_that_element(
    case: tuple[str, str], full: bool
) -> None:
    name, key = case
    resource = BUILDERS[name][1 if full else 0]()
    resource.setdefault("meta", {})["profile"] = [profile_url(name)]  # keep the profile applying
    resource.pop(key, None)
    issues = PROFILES.validate(resource)
    expressions = {i.expression[0] for i in issues if i.is_error}
    assert any(
        e == f"{resource['resourceType']}.{key}"
        or e.startswith(f"{resource['resourceType']}.{key}(")
        for e in expressions
    ), issues


@SETTINGS
@given(
    st.sampled_from(sorted(BUILDERS)),
    st.lists(
        st.tuples(st.sampled_from(["https://other.example.org/a", "urn:x:b"]), st.text(max_size=8)),
        max_size=3,
    ),
)
def test_unknown_extensions_are_allowed_by_open_slicing(
    name: str, extras: list[tuple[str, str]]
) -> None:
    resource = BUILDERS[name][1]()
    before = PROFILES.validate(copy.deepcopy(resource))
    resource.setdefault("extension", []).extend({"url": u, "valueString": v} for u, v in extras)
    assert PROFILES.validate(resource) == before == []
