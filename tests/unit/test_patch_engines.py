"""The two patch engines on plain dicts: places found by FHIRPath, choices, primitive
extension siblings kept in step, the input never changed, and FHIR locations in errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from eolc_fhir.fhir.errors import InvalidRequest, ProfileViolation
from eolc_fhir.fhir.fhirpath_patch import (
    MAX_OPERATIONS,
    apply_fhirpath_patch,
    read_fhirpath_patch,
)
from eolc_fhir.fhir.json_patch import apply_json_patch, pointer_to_fhirpath, read_json_patch
from eolc_fhir.validation.fhirpath import evaluate_node, parse_strict

OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "BP"},
    "valueQuantity": {"value": 0.1, "unit": "mmHg"},
    "component": [{"code": {"text": "sys"}, "valueQuantity": {"value": 120.5}},
                  {"code": {"text": "dia"}, "valueQuantity": {"value": 80}}],
    "note": [{"text": "a"}, {"text": "b"}, {"text": "c"}],
}
PATIENT: dict[str, Any] = {
    "resourceType": "Patient", "id": "p1",
    "name": [{"given": ["Ann", "Bea", "Cat"],
              "_given": [None, {"extension": [{"url": "u", "valueString": "x"}]}, None]}],
}


def _op(kind: str, path: str, **parts: Any) -> dict[str, Any]:
    out: list[dict[str, Any]] = [{"name": "type", "valueCode": kind},
                                 {"name": "path", "valueString": path}]
    for name, value in parts.items():
        out.append({"name": name, **value} if name == "value" else
                   {"name": name, "valueInteger": value} if isinstance(value, int) else
                   {"name": name, "valueString": value})
    return {"name": "operation", "part": out}


def _patch(resource: dict[str, Any], *ops: dict[str, Any]) -> dict[str, Any]:
    operations = read_fhirpath_patch({"resourceType": "Parameters", "parameter": list(ops)})
    return apply_fhirpath_patch(resource, operations, parse_strict, evaluate_node)


def test_places_by_filter_position_and_choice() -> None:
    before = copy.deepcopy(OBSERVATION)
    out = _patch(
        OBSERVATION,
        _op("replace", "Observation.component.where(code.text = 'sys').value",
            value={"valueString": "high"}),
        _op("replace", "Observation.value", value={"valueQuantity": {"value": 0.2}}),
        _op("delete", "Observation.note.last()"),
        _op("delete", "Observation.note.where(text = 'a')"),
        _op("replace", "(Observation.component.valueQuantity.value)[0]",
            value={"valueDecimal": 81}),
        _op("replace", "Observation.component.value.ofType(Quantity).value",
            value={"valueDecimal": 82}),  # only the second component is a Quantity now
    )
    assert out["component"][0] == {"code": {"text": "sys"}, "valueString": "high"}
    assert out["component"][1]["valueQuantity"] == {"value": 82}
    assert out["valueQuantity"] == {"value": 0.2}
    assert out["note"] == [{"text": "b"}]
    assert OBSERVATION == before  # the input is never changed


def test_primitive_extension_siblings_follow_their_values() -> None:
    moved = _patch(PATIENT, _op("move", "Patient.name[0].given", source=1, destination=0))
    assert moved["name"][0]["given"] == ["Bea", "Ann", "Cat"]
    assert moved["name"][0]["_given"][0] == PATIENT["name"][0]["_given"][1]
    deleted = _patch(PATIENT, _op("delete", "Patient.name[0].given[1]"))
    assert deleted["name"][0] == {"given": ["Ann", "Cat"], "_given": [None, None]}
    inserted = _patch(PATIENT, _op("insert", "Patient.name[0].given", index=3,
                                   value={"valueString": "Dee"}))
    assert inserted["name"][0]["given"][-1] == "Dee" and len(inserted["name"][0]["_given"]) == 4


@pytest.mark.parametrize(("ops", "expression"), [
    ([_op("add", "Observation.note", name="text", value={"valueString": "x"})],
     "Observation.note"),  # three notes: add needs exactly one element
    ([_op("replace", "Observation.status.substring(1)", value={"valueCode": "final"})],
     "Observation.status.substring(1)"),  # a computed value is no element
    ([_op("move", "Observation.note", source=0, destination=3)], "Observation.note"),
    ([_op("insert", "Observation.code", index=0, value={"valueString": "x"})],
     "Observation.code"),  # not a list
])
def test_operations_that_cannot_apply_are_422_naming_the_path(
        ops: list[dict[str, Any]], expression: str) -> None:
    with pytest.raises(ProfileViolation) as caught:
        _patch(OBSERVATION, *ops)
    assert expression in caught.value.issues[0].expression
    assert "Parameters.parameter[0]" in caught.value.issues[0].expression


def test_malformed_documents_are_400() -> None:
    for params in ([{"name": "op", "part": []}],
                   [_op("add", "Patient", value={"valueString": "x"})],  # no name part
                   [_op("insert", "Patient.name", value={"valueString": "x"}, index=-1)],
                   [_op("replace", "Patient.name", value={})],
                   [_op("delete", "Patient")] * (MAX_OPERATIONS + 1)):
        with pytest.raises(InvalidRequest):
            read_fhirpath_patch({"resourceType": "Parameters", "parameter": params})
    for document in ({}, [], [{"op": "add", "path": "/x"}], [{"op": "move", "path": "/x"}],
                     [{"op": "remove", "path": 3}], ["remove"]):
        with pytest.raises(InvalidRequest):
            read_json_patch(document)


def test_json_patch_errors_name_the_element() -> None:
    with pytest.raises(ProfileViolation) as caught:
        apply_json_patch(OBSERVATION, [{"op": "test", "path": "/component/1/valueQuantity/value",
                                        "value": 81}])
    assert caught.value.issues[0].expression == ("Observation.component[1].valueQuantity.value",)
    assert pointer_to_fhirpath("Patient", "/name/-") == "Patient.name"
    assert pointer_to_fhirpath("Patient", "/a~1b") == "Patient.a/b"


def test_hostile_patches_are_refused_without_quoting_the_record() -> None:
    doubling = [{"op": "copy", "from": "/note", "path": "/note/-"}] * 40
    with pytest.raises(ProfileViolation) as caught:
        apply_json_patch(OBSERVATION, doubling)  # 2**40 notes, were it allowed
    assert caught.value.issues[0].code == "too-costly"
    with pytest.raises(ProfileViolation) as caught:
        apply_json_patch(OBSERVATION, [{"op": "test", "path": "/status", "value": "draft"}])
    assert "final" not in caught.value.issues[0].diagnostics  # the stored value stays unsaid
    for resource, path in ((OBSERVATION, "Observation.code.resolve()"),
                           (OBSERVATION, "Observation.note.frobnicate()"),
                           (PATIENT, "Patient.name.given.where($this.length() > 2)")):
        with pytest.raises(ProfileViolation):  # the FHIRPath engine's own errors: 422
            _patch(resource, _op("delete", path))
