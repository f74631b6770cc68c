"""The strict FHIR JSON reader (fhir/parse.py): what R4 JSON forbids, and what it allows."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eolc_fhir.fhir._model_check import fhirpath, issue_code, model_issues
from eolc_fhir.fhir.errors import InvalidRequest, Issue
from eolc_fhir.fhir.parse import check_resource, dump, parse_json, parse_resource
from tests.data import FHIR_R4_EXAMPLES

EXAMPLES = sorted(FHIR_R4_EXAMPLES.glob("*.json"))
NS = 'xmlns="http://www.w3.org/1999/xhtml"'


def issues_of(resource: Any, **kwargs: Any) -> list[Issue]:
    with pytest.raises(InvalidRequest) as caught:
        check_resource(resource, **kwargs)
    assert caught.value.status == 400
    return caught.value.issues


def only_issue(resource: Any, **kwargs: Any) -> Issue:
    issues = issues_of(resource, **kwargs)
    assert len(issues) == 1, issues
    return issues[0]


def patient(**elements: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", **elements}


# --- the official examples -------------------------------------------------------------


def test_examples_are_present() -> None:
    assert len(EXAMPLES) >= 100


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_official_example_is_accepted_and_round_trips(path: Path) -> None:
    body = path.read_bytes()
    resource = parse_resource(body)
    assert resource == orjson.loads(body)
    check_resource(resource, expected_type=resource["resourceType"])
    check_resource(resource, model_check=False)
    assert parse_json(dump(resource)) == resource


# --- parse_json ------------------------------------------------------------------------


def test_malformed_json_names_line_and_column() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_json(b'{\n  "resourceType": "Patient",\n  "active": tru\n}')
    issue = caught.value.issues[0]
    assert issue.code == "structure"
    assert "line 3" in issue.diagnostics and "column" in issue.diagnostics


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b'{"a":1,}', b"{'a': 1}", b'{"a": NaN}', b'{"a": 1e999}', b"[1, 2", b"nul"],
)
def test_invalid_json_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_json(body)
    assert caught.value.issues[0].code == "structure"


def test_non_utf8_is_refused_with_the_byte_offset() -> None:
    with pytest.raises(InvalidRequest, match=r"not valid UTF-8 \(byte 10\)"):
        parse_json(b'{"name": "\xff"}')


def test_utf8_bom_is_tolerated() -> None:
    assert parse_json(b'\xef\xbb\xbf{"resourceType": "Patient"}') == {"resourceType": "Patient"}


@pytest.mark.parametrize(
    "body",
    [
        b'{"resourceType": "Patient", "active": true, "active": false}',
        b'{"resourceType": "Patient", "name": [{"family": "A", "given": ["b"], "family" : "C"}]}',
        b'{"resourceType": "Patient", "resourceType": "Patient"}',
    ],
)
def test_repeated_properties_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidRequest, match="repeats the property") as caught:
        parse_json(body)
    assert caught.value.issues[0].code == "structure"


def test_quote_colon_inside_a_string_is_not_a_repeated_key() -> None:
    body = b'{"resourceType": "Patient", "name": [{"text": "say \\"hi\\": ok"}]}'
    assert parse_json(body)["name"][0]["text"] == 'say "hi": ok'


def test_same_key_in_different_objects_is_fine() -> None:
    body = b'{"a": {"x": 1}, "b": {"x": 2}, "c": [{"x": 3}, {"x": 4}]}'
    assert parse_json(body)["c"][1] == {"x": 4}


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    assert parse_json(b"[[[1]]]", max_depth=3) == [[[1]]]
    with pytest.raises(InvalidRequest, match="nested more than 3") as caught:
        parse_json(b"[[[[1]]]]", max_depth=3)
    assert caught.value.issues[0].code == "too-costly"


def test_very_deep_json_is_refused_not_crashing() -> None:
    with pytest.raises(InvalidRequest):
        parse_json(b"[" * 5000 + b"]" * 5000)


def test_arrays_longer_than_the_limit_are_refused() -> None:
    assert len(parse_json(orjson.dumps({"a": list(range(5))}), max_array_length=5)["a"]) == 5
    with pytest.raises(InvalidRequest, match="array of 6 items") as caught:
        parse_json(orjson.dumps({"a": [{"b": list(range(6))}]}), max_array_length=5)
    assert caught.value.issues[0].code == "too-costly"


def test_parse_resource_applies_both_stages() -> None:
    with pytest.raises(InvalidRequest):
        parse_resource(b'{"resourceType": "Patient", "active": "true"}')
    assert parse_resource(b'{"resourceType": "Patient", "active": true}')["active"] is True


def test_dump_is_compact_and_keeps_property_order() -> None:
    resource = {"resourceType": "Patient", "id": "a", "active": True}
    assert dump(resource) == b'{"resourceType":"Patient","id":"a","active":true}'


# --- the resource itself ---------------------------------------------------------------


@pytest.mark.parametrize("value", [[], "Patient", 3, None, True])
def test_body_must_be_an_object(value: Any) -> None:
    assert only_issue(value).code == "structure"


def test_resource_type_is_required() -> None:
    issue = only_issue({"id": "x"})
    assert (issue.code, issue.expression) == ("required", ("resourceType",))


def test_unknown_resource_type_is_not_supported() -> None:
    issue = only_issue({"resourceType": "Spaceship"})
    assert (issue.code, issue.expression) == ("not-supported", ("resourceType",))


def test_non_string_resource_type() -> None:
    issue = only_issue({"resourceType": ["Patient"]})
    assert (issue.code, issue.expression) == ("structure", ("resourceType",))


def test_wrong_resource_type_for_the_url() -> None:
    issue = only_issue(patient(), expected_type="Observation")
    assert (issue.code, issue.expression) == ("invalid", ("resourceType",))
    assert "'Observation'" in issue.diagnostics


# Each case: resource, expected code, expected expression, a fragment of the message.
CASES: list[tuple[str, dict[str, Any], str, str, str]] = [
    ("unknown element", patient(foo=1), "structure", "Patient.foo", "unknown element 'foo'"),
    (
        "nested unknown",
        patient(name=[{"famly": "X"}]),
        "structure",
        "Patient.name[0].famly",
        "unknown",
    ),
    (
        "fhir_comments",
        patient(fhir_comments=["x"]),
        "structure",
        "Patient.fhir_comments",
        "unknown",
    ),
    ("_ on complex", patient(_name=[{"id": "a"}]), "structure", "Patient._name", "unknown element"),
    (
        "_ on element id",
        patient(name=[{"_id": {"id": "a"}}]),
        "structure",
        "Patient.name[0]._id",
        "unknown element",
    ),
    (
        "_ on extension url",
        patient(extension=[{"url": "http://x", "valueString": "a", "_url": {"id": "u"}}]),
        "structure",
        "Patient.extension[0]._url",
        "unknown element",
    ),
    (
        "empty object",
        patient(maritalStatus={}),
        "structure",
        "Patient.maritalStatus",
        "empty objects",
    ),
    ("empty array", patient(name=[]), "structure", "Patient.name", "empty arrays"),
    ("empty in array", patient(name=[{}]), "structure", "Patient.name[0]", "empty objects"),
    ("empty string", patient(gender=""), "value", "Patient.gender", "empty strings"),
    (
        "empty given",
        patient(name=[{"given": ["a", ""]}]),
        "value",
        "Patient.name[0].given[1]",
        "empty",
    ),
    ("null value", patient(active=None), "structure", "Patient.active", "null is not allowed"),
    ("null complex item", patient(name=[None]), "structure", "Patient.name[0]", "null"),
    (
        "null primitive item",
        patient(name=[{"given": [None]}]),
        "structure",
        "Patient.name[0].given[0]",
        "null is only allowed",
    ),
    ("boolean as string", patient(active="true"), "structure", "Patient.active", "JSON boolean"),
    ("boolean as number", patient(active=1), "structure", "Patient.active", "JSON boolean"),
    (
        "integer as string",
        patient(multipleBirthInteger="2"),
        "structure",
        "Patient.multipleBirthInteger",
        "JSON number",
    ),
    (
        "integer as decimal",
        patient(multipleBirthInteger=2.5),
        "structure",
        "Patient.multipleBirthInteger",
        "JSON number",
    ),
    (
        "integer out of range",
        patient(multipleBirthInteger=2**31),
        "value",
        "Patient.multipleBirthInteger",
        "out of range",
    ),
    (
        "string as number",
        patient(name=[{"given": ["a", 3]}]),
        "structure",
        "Patient.name[0].given[1]",
        "JSON string",
    ),
    ("date as number", patient(birthDate=2001), "structure", "Patient.birthDate", "JSON string"),
    ("code as boolean", patient(gender=True), "structure", "Patient.gender", "JSON string"),
    ("list for single", patient(gender=["male"]), "structure", "Patient.gender", "single value"),
    (
        "object list for single",
        patient(maritalStatus=[{"text": "x"}]),
        "structure",
        "Patient.maritalStatus",
        "single value",
    ),
    (
        "single for list",
        patient(name={"family": "X"}),
        "structure",
        "Patient.name",
        "expected an array",
    ),
    (
        "primitive for object",
        patient(maritalStatus="married"),
        "structure",
        "Patient.maritalStatus",
        "expected an object",
    ),
    (
        "impossible date",
        patient(birthDate="2023-02-30"),
        "value",
        "Patient.birthDate",
        "valid date",
    ),
    (
        "not a leap year",
        patient(birthDate="2023-02-29"),
        "value",
        "Patient.birthDate",
        "valid date",
    ),
    (
        "bad date format",
        patient(birthDate="2023/01/01"),
        "value",
        "Patient.birthDate",
        "valid date",
    ),
    (
        "date with time",
        patient(birthDate="2023-01-01T10:00:00Z"),
        "value",
        "Patient.birthDate",
        "date",
    ),
    (
        "dateTime without zone",
        patient(deceasedDateTime="2023-01-01T10:00:00"),
        "value",
        "Patient.deceasedDateTime",
        "valid dateTime",
    ),
    (
        "dateTime bad day",
        patient(deceasedDateTime="2023-04-31"),
        "value",
        "Patient.deceasedDateTime",
        "valid dateTime",
    ),
    (
        "instant without time",
        patient(meta={"lastUpdated": "2023-01-01"}),
        "value",
        "Patient.meta.lastUpdated",
        "valid instant",
    ),
    ("bad id", patient(id="a b"), "value", "Patient.id", "valid id"),
    ("id too long", patient(id="a" * 65), "value", "Patient.id", "valid id"),
    ("code leading space", patient(gender=" male"), "value", "Patient.gender", "valid code"),
    ("code double space", patient(language="en  GB"), "value", "Patient.language", "valid code"),
    (
        "uri with space",
        patient(implicitRules="http://a b"),
        "value",
        "Patient.implicitRules",
        "uri",
    ),
    (
        "control character",
        patient(name=[{"text": "a\x07b"}]),
        "value",
        "Patient.name[0].text",
        "control",
    ),
    ("bad base64", patient(photo=[{"data": "!!!"}]), "value", "Patient.photo[0].data", "base64"),
    (
        "bad time",
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "valueTime": "25:00:00",
        },
        "value",
        "Observation.valueTime",
        "valid time",
    ),
    (
        "bad oid in extension",
        patient(extension=[{"url": "http://x", "valueOid": "urn:oid:9.1"}]),
        "value",
        "Patient.extension[0].valueOid",
        "valid oid",
    ),
    (
        "bad uuid in extension",
        patient(extension=[{"url": "http://x", "valueUuid": "urn:uuid:X"}]),
        "value",
        "Patient.extension[0].valueUuid",
        "valid uuid",
    ),
    (
        "positiveInt zero",
        patient(extension=[{"url": "http://x", "valuePositiveInt": 0}]),
        "value",
        "Patient.extension[0].valuePositiveInt",
        "out of range",
    ),
    (
        "decimal as string",
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "valueQuantity": {"value": "1.5"},
        },
        "structure",
        "Observation.valueQuantity.value",
        "JSON number",
    ),
    (
        "two choices",
        patient(deceasedBoolean=True, deceasedDateTime="2020"),
        "structure",
        "Patient.deceasedDateTime",
        "only one of",
    ),
    (
        "missing required",
        {"resourceType": "Observation", "status": "final"},
        "required",
        "Observation.code",
        "required",
    ),
    (
        "missing required primitive",
        {"resourceType": "Observation", "code": {"text": "x"}},
        "required",
        "Observation.status",
        "required",
    ),
    (
        "missing required reference",
        {"resourceType": "Flag", "status": "active", "code": {"text": "x"}},
        "required",
        "Flag.subject",
        "required",
    ),
    (
        "missing required choice",
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "subject": {"reference": "Patient/1"},
        },
        "required",
        "MedicationRequest.medication[x]",
        "one of medicationCodeableConcept, medicationReference is required",
    ),
    (
        "ext-1 neither",
        patient(extension=[{"url": "http://x"}]),
        "invalid",
        "Patient.extension[0]",
        "ext-1",
    ),
    (
        "ext-1 both",
        patient(
            extension=[
                {
                    "url": "http://x",
                    "valueString": "a",
                    "extension": [{"url": "b", "valueString": "c"}],
                }
            ]
        ),
        "invalid",
        "Patient.extension[0]",
        "ext-1",
    ),
    ("ele-1", patient(contact=[{"id": "c1"}]), "invalid", "Patient.contact[0]", "ele-1"),
    (
        "extension value type",
        patient(extension=[{"url": "http://x", "valueBoolean": "yes"}]),
        "structure",
        "Patient.extension[0].valueBoolean",
        "JSON boolean",
    ),
    (
        "bad narrative",
        patient(text={"status": "generated", "div": f"<div {NS}><script>x</script>y</div>"}),
        "value",
        "Patient.text.div",
        "<script>",
    ),
    (
        "narrative event attribute",
        patient(text={"status": "generated", "div": f'<div {NS}><p onmouseover="x()">y</p></div>'}),
        "value",
        "Patient.text.div",
        "onmouseover",
    ),
    (
        "narrative not xml",
        patient(text={"status": "generated", "div": "<div>"}),
        "value",
        "Patient.text.div",
        "not well-formed",
    ),
    (
        "narrative whitespace only",
        patient(text={"status": "generated", "div": f"<div {NS}> </div>"}),
        "value",
        "Patient.text.div",
        "non-whitespace",
    ),
    # Codes outside a required binding's value set: the register would silently lose a
    # Flag whose status is "actve".
    (
        "flag status not in its value set",
        {"resourceType": "Flag", "status": "actve", "code": {"text": "x"},
         "subject": {"reference": "Patient/p"}},
        "code-invalid",
        "Flag.status",
        "'actve' is not one of the codes allowed here (required binding): active | inactive"
        " | entered-in-error",
    ),
    ("gender in another code system", patient(gender="F"), "code-invalid", "Patient.gender",
     "male | female | other | unknown"),
    ("code case matters", patient(gender="Female"), "code-invalid", "Patient.gender",
     "'Female'"),
    (
        "code in a datatype, in a list",
        patient(name=[{"family": "A"}, {"use": "offical", "family": "B"}]),
        "code-invalid",
        "Patient.name[1].use",
        "'offical'",
    ),
    (
        "code in a backbone element",
        {"resourceType": "CarePlan", "status": "active", "intent": "plan",
         "subject": {"reference": "Patient/p"},
         "activity": [{"detail": {"status": "started"}}]},
        "code-invalid",
        "CarePlan.activity[0].detail.status",
        "not-started | scheduled",
    ),
    (
        "code in a contained resource",
        patient(contained=[{"resourceType": "Flag", "id": "f", "status": "on",
                            "code": {"text": "x"}, "subject": {"reference": "#"}}]),
        "code-invalid",
        "Patient.contained[0].status",
        "'on'",
    ),
]


@pytest.mark.parametrize(
    ("resource", "code", "expression", "fragment"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
@pytest.mark.parametrize("model_check", [True, False], ids=["with-model", "walk-only"])
def test_each_violation_is_reported_with_code_and_expression(
    resource: dict[str, Any], code: str, expression: str, fragment: str, model_check: bool
) -> None:
    issues = issues_of(resource, model_check=model_check)
    matching = [i for i in issues if i.expression == (expression,)]
    assert matching, f"no issue at {expression}: {issues}"
    assert matching[0].code == code, matching
    assert fragment in matching[0].diagnostics, matching
    assert matching[0].diagnostics.startswith(expression + ": ")
    assert all(i.severity == "error" for i in issues)


def test_every_problem_is_listed_at_once() -> None:
    resource = patient(
        birthDate="2023-02-30",
        active="true",
        name=[{"given": ["Ann", 7]}],
        unknown=1,
        text={"status": "generated", "div": f"<div {NS}><iframe/>x</div>"},
    )
    expressions = {i.expression[0] for i in issues_of(resource)}
    assert expressions == {
        "Patient.birthDate",
        "Patient.active",
        "Patient.name[0].given[1]",
        "Patient.unknown",
        "Patient.text.div",
    }


def test_the_input_is_not_modified() -> None:
    resource = patient(active="true", contained=[{"resourceType": "Flag", "status": "x"}])
    before = copy.deepcopy(resource)
    issues_of(resource)
    assert resource == before


# --- the R4B model stage -----------------------------------------------------------------


def test_pydantic_locations_become_fhirpath() -> None:
    assert fhirpath("Patient", ()) == "Patient"
    assert fhirpath("Patient", ("name", 0, "_given", 1)) == "Patient.name[0].given[1]"
    assert (
        fhirpath("Bundle", ("entry", 2, "resource", "status")) == "Bundle.entry[2].resource.status"
    )


@pytest.mark.parametrize(
    ("error_type", "code"),
    [
        ("missing", "required"),
        ("extra_forbidden", "structure"),
        ("string_type", "structure"),
        ("date_from_datetime_parsing", "value"),
        ("string_pattern_mismatch", "value"),
        ("value_error", "value"),
        ("something_new", "invalid"),
    ],
)
def test_pydantic_error_types_map_to_issue_codes(error_type: str, code: str) -> None:
    assert issue_code(error_type) == code


def test_model_issues_are_mapped_and_not_repeated() -> None:
    resource = patient(birthDate="not a date", name=[{"given": ["a", 3]}])
    found = model_issues(resource, "Patient", [])
    assert {(i.code, i.expression) for i in found} == {
        ("value", ("Patient.birthDate",)),
        ("structure", ("Patient.name[0].given[1]",)),
    }
    known = [Issue("error", "value", "walk", ("Patient.name[0]",))]
    assert [i.expression for i in model_issues(resource, "Patient", known)] == [
        ("Patient.birthDate",)
    ]


def test_model_crash_on_input_the_walk_rejected_is_not_an_error() -> None:
    resource = patient(contained=[{"resourceType": "Nope"}])
    walk_issue = Issue("error", "not-supported", "walk", ("Patient.contained[0].resourceType",))
    assert model_issues(resource, "Patient", [walk_issue]) == []


# --- primitive extensions (the "_x" siblings) ------------------------------------------

EXT = {"extension": [{"url": "http://example.org/reason", "valueString": "unknown"}]}


def test_primitive_extensions_are_accepted() -> None:
    check_resource(patient(birthDate="1970-01-01", _birthDate={"id": "b1"}))
    check_resource(patient(_birthDate=EXT))
    check_resource(patient(name=[{"given": ["A", None], "_given": [None, EXT]}]))
    check_resource(patient(name=[{"_given": [EXT, EXT]}]))
    check_resource({"resourceType": "Observation", "code": {"text": "x"}, "_status": EXT})
    check_resource(patient(extension=[{"url": "http://x", "_valueString": EXT}]))


@pytest.mark.parametrize(
    ("resource", "expression", "fragment"),
    [
        (patient(_birthDate=[EXT]), "Patient.birthDate", "must be an object"),
        (patient(_birthDate={"id": "b1"}), "Patient.birthDate", "must have an extension"),
        (patient(_birthDate={}), "Patient.birthDate", "empty objects"),
        (patient(_birthDate=None), "Patient.birthDate", "null"),
        (
            patient(name=[{"given": ["A"], "_given": EXT}]),
            "Patient.name[0].given",
            "must be an array",
        ),
        (
            patient(name=[{"given": ["A"], "_given": [None, EXT]}]),
            "Patient.name[0].given",
            "same number of items",
        ),
        (
            patient(name=[{"given": ["A", None], "_given": [EXT, None]}]),
            "Patient.name[0].given[1]",
            "null is only allowed",
        ),
        (patient(name=[{"_given": [None]}]), "Patient.name[0].given[0]", "no value to line up"),
        (
            patient(name=[{"given": ["A"], "_given": [7]}]),
            "Patient.name[0].given[0]",
            "object or null",
        ),
        (
            patient(_birthDate={"extension": [{"url": 5, "valueString": "x"}]}),
            "Patient.birthDate.extension[0].url",
            "JSON string",
        ),
        (
            patient(deceasedBoolean=True, _deceasedDateTime=EXT),
            "Patient.deceasedDateTime",
            "only one of",
        ),
    ],
)
def test_bad_primitive_extensions_are_refused(
    resource: dict[str, Any], expression: str, fragment: str
) -> None:
    issues = issues_of(resource)
    assert any(i.expression == (expression,) and fragment in i.diagnostics for i in issues), issues


# --- contained resources and bundles ---------------------------------------------------


def test_contained_resources_are_checked_with_their_own_type() -> None:
    resource = patient(contained=[{"resourceType": "Flag", "id": "f", "status": " bogus"}])
    expressions = {i.expression[0]: i.code for i in issues_of(resource)}
    assert expressions["Patient.contained[0].status"] == "value"
    assert expressions["Patient.contained[0].code"] == "required"


def test_bundle_entries_are_checked_with_their_own_type() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
            {"resource": {"resourceType": "Nope"}, "request": {"method": "POST", "url": "Nope"}},
            {
                "resource": {"resourceType": "Observation", "code": {"text": "x"}, "status": 1},
                "request": {"method": "POST", "url": "Observation"},
            },
            {"resource": [patient()], "request": {"method": "POST", "url": "Patient"}},
            {
                "resource": {
                    "resourceType": "Patient",
                    "text": {"status": "generated", "div": f"<div {NS}><script/>x</div>"},
                },
                "request": {"method": "POST", "url": "Patient"},
            },
        ],
    }
    found = {(i.code, i.expression[0]) for i in issues_of(bundle)}
    assert found == {
        ("not-supported", "Bundle.entry[1].resource.resourceType"),
        ("structure", "Bundle.entry[2].resource.status"),
        ("structure", "Bundle.entry[3].resource"),
        ("value", "Bundle.entry[4].resource.text.div"),
    }


def test_contained_resource_without_resource_type() -> None:
    issue = only_issue(patient(contained=[{"id": "x"}]))
    assert (issue.code, issue.expression) == ("required", ("Patient.contained[0].resourceType",))


# --- leniency where the format allows it -----------------------------------------------


@pytest.mark.parametrize(
    "resource",
    [
        patient(birthDate="1970"),
        patient(birthDate="1970-06"),
        patient(deceasedDateTime="2024-02-29T23:59:60+14:00"),
        patient(deceasedDateTime="2015-02-07T13:28:17.239+02:00"),
        patient(multipleBirthInteger=-2),
        patient(id="A-Za-z0-9.-" + "x" * 53),
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "valueQuantity": {"value": 1},
        },
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "valueQuantity": {"value": 1.5e-3},
        },
        patient(name=[{"text": "  leading and trailing whitespace is allowed in strings  "}]),
        patient(text={"status": "generated", "div": f'<div {NS}><img src="#a"/></div>'}),
        # Where the models' list of a binding's codes is cut short ("registered | preliminary
        # | final | amended +"), the codes beyond it are valid and must not be refused.
        {"resourceType": "Observation", "status": "cancelled", "code": {"text": "x"}},
        {"resourceType": "Encounter", "status": "entered-in-error", "class": {"code": "AMB"}},
        # Not lists of codes: "formats supported (xml | json | ttl | mime type)".
        {"resourceType": "CapabilityStatement", "status": "active", "date": "2026",
         "kind": "instance", "fhirVersion": "4.0.1", "format": ["application/fhir+json"]},
        # A code given only an extension (no value) has nothing to check against the set.
        {"resourceType": "Flag", "_status": {"extension": [{"url": "http://x",
                                                            "valueString": "why"}]},
         "code": {"text": "x"}, "subject": {"reference": "Patient/p"}},
    ],
)
def test_valid_edge_cases_are_accepted(resource: dict[str, Any]) -> None:
    check_resource(resource)


# --- robustness: junk never becomes anything but InvalidRequest --------------------------

_KEYS = st.sampled_from(
    [
        "resourceType",
        "id",
        "meta",
        "text",
        "status",
        "div",
        "extension",
        "url",
        "valueString",
        "_valueString",
        "name",
        "given",
        "_given",
        "family",
        "birthDate",
        "_birthDate",
        "active",
        "contained",
        "entry",
        "resource",
        "code",
        "coding",
        "system",
        "value",
        "subject",
        "reference",
        "deceasedBoolean",
        "lastUpdated",
        "",
        "_",
        "__proto__",
    ]
) | st.text(max_size=8)
_TYPES = st.sampled_from(["Patient", "Bundle", "Observation", "CarePlan", "Flag", "Nope", ""])
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | _TYPES
    | st.sampled_from([f"<div {NS}>x</div>", "<div>", "2023-02-30", "1970-01-01", "true"])
)
_JSON = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(_KEYS, children, max_size=5)
        | st.fixed_dictionaries({"resourceType": _TYPES}, optional={"x": children})
    ),
    max_leaves=30,
)
_RESOURCES = st.builds(
    lambda rt, body: {"resourceType": rt, **body},
    _TYPES,
    st.dictionaries(_KEYS, _JSON, max_size=6),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_RESOURCES, _JSON))
def test_random_json_only_ever_raises_invalid_request(value: Any) -> None:
    body = orjson.dumps(value)
    try:
        resource = parse_resource(body)
    except InvalidRequest as error:
        assert error.issues and all(i.code for i in error.issues)
    else:
        assert parse_json(dump(resource)) == resource


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_only_ever_raise_invalid_request(body: bytes) -> None:
    try:
        parse_resource(body)
    except InvalidRequest:
        pass


def _node_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            paths += _node_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += _node_paths(item, (*path, index))
    return paths


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copied = copy.copy(value)
    copied[path[0]] = _replace(value[path[0]], path[1:], new)
    return copied


_EXAMPLE_DOCS = [orjson.loads(p.read_bytes()) for p in EXAMPLES[::7]]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_examples_only_ever_raise_invalid_request(data: st.DataObject) -> None:
    """One node of a real example replaced with junk: a clear 400 or a valid resource."""
    document = data.draw(st.sampled_from(_EXAMPLE_DOCS))
    path = data.draw(st.sampled_from(_node_paths(document)[1:]))
    junk = data.draw(_JSON | st.just({}) | st.just([]) | st.just(""))
    mutated = _replace(document, path, junk)
    try:
        resource = parse_resource(orjson.dumps(mutated))
    except InvalidRequest as error:
        assert error.issues and all(i.code and i.diagnostics for i in error.issues)
    else:
        assert parse_json(dump(resource)) == resource
