"""The FHIRPath subset used by search parameter expressions."""

from __future__ import annotations

import pytest

from eolc_fhir.search.expression import ExpressionError, compile_expression, reference_type

OBS = {
    "resourceType": "Observation",
    "effectivePeriod": {"start": "2024"},
    "valueQuantity": {"value": 1},
    "subject": {"reference": "Patient/1"},
    "performer": [{"reference": "Practitioner/2"}, {"reference": "Patient/3"}],
}


def test_choice_elements_and_as() -> None:
    assert compile_expression("Observation.effective").evaluate(OBS) == [{"start": "2024"}]
    assert compile_expression("(Observation.value as Quantity)").evaluate(OBS) == [{"value": 1}]
    assert compile_expression("Observation.value.as(string)").evaluate(OBS) == []


def test_union_and_where_resolve() -> None:
    expr = compile_expression(
        "Observation.subject | Observation.performer.where(resolve() is Patient)")
    assert expr.evaluate(OBS) == [{"reference": "Patient/1"}, {"reference": "Patient/3"}]


def test_where_equals_and_presence_idiom() -> None:
    patient = {"telecom": [{"system": "email", "value": "a@b"}, {"system": "phone", "value": "1"}],
               "deceasedDateTime": "2020"}
    email = compile_expression("Patient.telecom.where(system='email')")
    assert email.evaluate(patient) == [{"system": "email", "value": "a@b"}]
    deceased = compile_expression("Patient.deceased.exists() and Patient.deceased != false")
    assert deceased.evaluate(patient) == [True]
    assert deceased.evaluate({"deceasedBoolean": False}) == [False]


@pytest.mark.parametrize("text", ["Patient.name.first()", "Patient", "Patient.extension('x')"])
def test_unsupported_expressions_fail_at_load(text: str) -> None:
    with pytest.raises(ExpressionError):
        compile_expression(text)


def test_reference_type() -> None:
    assert reference_type("Patient/1") == "Patient"
    assert reference_type("https://x.org/fhir/Patient/1/_history/2") == "Patient"
    assert reference_type("urn:uuid:1234") is None
