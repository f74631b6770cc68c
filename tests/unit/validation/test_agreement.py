"""Validator agreement: cases in the style of HL7's validator test cases, with the outcome the
FHIR specification gives for each (cases/*.json); every case must agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eolc_fhir.fhir.errors import InvalidRequest, Issue
from eolc_fhir.fhir.parse import check_resource
from eolc_fhir.validation import ProfileSet

CASES = Path(__file__).parent / "cases"


def _outcome(profiles: ProfileSet, case: dict[str, Any]) -> list[Issue]:
    """Both stages, as a write runs them: base (the R4 model), then the profiles."""
    try:
        check_resource(case["resource"])
    except InvalidRequest as exc:
        return list(exc.issues)
    return profiles.validate(case["resource"], extra_profiles=case.get("profiles", []))


def _disagreement(issues: list[Issue], expect: dict[str, Any]) -> str | None:
    errors = sorted(i.expression[0] if i.expression else "" for i in issues if i.is_error)
    warnings = {i.expression[0] if i.expression else "" for i in issues if not i.is_error}
    if (not errors) != expect["valid"]:
        return f"expected valid={expect['valid']}, got errors at {errors}"
    if sorted(expect.get("errors", [])) != errors:
        return f"expected errors at {sorted(expect.get('errors', []))}, got {errors}"
    missing = set(expect.get("warnings", [])) - warnings
    if missing:
        return f"expected warnings at {sorted(missing)}, got {sorted(warnings)}"
    return None


def test_every_case_agrees_with_the_specification() -> None:
    total, disagreements = 0, []
    for path in sorted(CASES.glob("*.json")):
        suite = json.loads(path.read_text(encoding="utf-8"))
        profiles = ProfileSet(suite["conformance"])
        for case in suite["cases"]:
            total += 1
            why = _disagreement(_outcome(profiles, case), case["expect"])
            if why is not None:
                disagreements.append(f"{path.name}: {case['name']}: {why}")
    agreement = f"agreement {total - len(disagreements)} of {total}"
    assert total >= 32, agreement
    assert not disagreements, agreement + "\n" + "\n".join(disagreements)
