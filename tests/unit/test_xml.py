"""FHIR XML <-> JSON (fhir/xml.py): every official R4 example survives JSON -> XML -> JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.fhir.models import model_class
from eolc_fhir.fhir.parse import check_resource
from eolc_fhir.fhir.xml import FHIR_NS, from_xml, to_xml
from tests.data import BACKPORT_EXAMPLES, FHIR_R4_EXAMPLES

EXAMPLES = sorted(FHIR_R4_EXAMPLES.glob("*.json")) + sorted(BACKPORT_EXAMPLES.glob("*.json"))
ROOT = Path(__file__).resolve().parents[2]


def test_every_official_example_round_trips() -> None:
    assert len(EXAMPLES) > 100
    for path in EXAMPLES + sorted((ROOT / "examples").glob("*.json")):
        resource = json.loads(path.read_bytes())
        written = to_xml(resource)
        assert from_xml(written) == resource, path.name
        root = etree.fromstring(written)
        assert root.tag == f"{{{FHIR_NS}}}{resource['resourceType']}"


def test_xml_shape_follows_the_r4_xml_rules() -> None:
    resource = {
        "resourceType": "Patient", "id": "p1",
        "extension": [{"url": "http://x.org/e", "valueBoolean": True}],
        "name": [{"id": "n1", "given": ["Ann", None, "Bea"],
                  "_given": [None, {"extension": [{"url": "http://x.org/g",
                                                   "valueString": "absent"}]}, None]}],
        "gender": "female", "_birthDate": {"id": "b"}, "multipleBirthInteger": 2,
        "contained": [{"resourceType": "Organization", "id": "o", "name": "Org"}],
    }
    written = to_xml(resource).decode()
    # Definition order (contained before extension before name), ids and urls as attributes.
    assert written.index("</contained>") < written.index("<extension") \
        < written.index('<name id="n1"')
    assert '<extension url="http://x.org/e"><valueBoolean value="true"/>' in written
    assert '<name id="n1"><given value="Ann"/><given><extension' in written
    assert '<birthDate id="b"/>' in written and '<multipleBirthInteger value="2"/>' in written
    assert "<contained><Organization><id value=\"o\"/>" in written
    assert from_xml(written.encode()) == resource


def _refusal(body: bytes) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        from_xml(body)
    return caught.value


@pytest.mark.parametrize("body", [
    # billion laughs (entity expansion)
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
    b'"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    b'<Patient xmlns="http://hl7.org/fhir"><gender value="&lol2;"/></Patient>',
    # an external entity
    b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<Patient xmlns="http://hl7.org/fhir"><gender value="&x;"/></Patient>',
    # an external DTD
    b'<!DOCTYPE Patient SYSTEM "http://127.0.0.1:9/x.dtd"><Patient xmlns="http://hl7.org/fhir"/>',
    # the same in UTF-16, which a byte search for "<!DOCTYPE" does not see
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE p [<!ENTITY x "y">]>'
    '<Patient xmlns="http://hl7.org/fhir"/>'.encode("utf-16"),
])
def test_dtds_and_entities_are_refused(body: bytes) -> None:
    error = _refusal(body)
    assert error.status == 400
    assert error.issues[0].code in ("security", "structure")
    assert "root:" not in str(error.issues)  # nothing of /etc/passwd read back


def test_depth_unknown_elements_and_malformed_xml_are_refused() -> None:
    deep = (b'<Basic xmlns="http://hl7.org/fhir"><code><text value="x"/></code>'
            + b'<extension url="http://x.org/e">' * 80 + b"</extension>" * 80 + b"</Basic>")
    assert _refusal(deep).issues[0].code == "too-costly"
    unknown = _refusal(b'<Patient xmlns="http://hl7.org/fhir"><colour value="red"/></Patient>')
    assert unknown.issues[0].expression == ("Patient.colour",)
    attribute = _refusal(b'<Patient xmlns="http://hl7.org/fhir"><id value="a" x="1"/></Patient>')
    assert "attribute" in str(attribute.issues[0].diagnostics)
    assert _refusal(b"<Patient xmlns='http://hl7.org/fhir'>").issues[0].code == "structure"
    other_ns = _refusal(b'<Patient xmlns="urn:other"/>')
    assert "namespace" in str(other_ns.issues[0].diagnostics)
    assert _refusal(b'<SubscriptionTopic xmlns="http://hl7.org/fhir"/>').issues[0].code \
        == "not-supported"
    text = _refusal(b'<Patient xmlns="http://hl7.org/fhir"><gender>male</gender></Patient>')
    assert text.issues[0].expression == ("Patient.gender",)
    twice = b'<Patient xmlns="http://hl7.org/fhir"><gender value="male"/><gender value="male"/>'
    assert _refusal(twice + b"</Patient>").issues[0].expression == ("Patient.gender",)


def test_wrong_primitive_text_is_named_by_the_strict_checks() -> None:
    for xml, where in [(b'<active value="yes"/>', "Patient.active"),
                       (b'<multipleBirthInteger value="1e999"/>', "Patient.multipleBirthInteger"),
                       (b'<birthDate value="1941-02-30"/>', "Patient.birthDate")]:
        resource = from_xml(b'<Patient xmlns="http://hl7.org/fhir">' + xml + b"</Patient>")
        with pytest.raises(InvalidRequest) as caught:
            check_resource(resource)
        assert caught.value.issues[0].expression == (where,)


def _outline(xml: bytes) -> list[tuple[str, tuple[str, ...]]]:
    """Element names in document order with their attribute names; narrative and ids left
    out (the models write an element's id as a child element, R4 XML as an attribute)."""
    return [(etree.QName(el).localname, tuple(sorted(set(el.attrib) - {"id"})))
            for el in etree.fromstring(xml).iter()
            if isinstance(el.tag, str) and not el.tag.startswith("{http://www.w3.org/1999")
            and etree.QName(el).localname != "id"]


def test_element_order_agrees_with_the_r4b_models_own_xml() -> None:
    """fhir.resources' model_dump_xml, an independent writer: same elements in the same order
    and the same attributes on every official example (values aside: the models rewrite
    them, e.g. 80 as 80.0)."""
    for path in sorted(FHIR_R4_EXAMPLES.glob("*.json")):
        resource = json.loads(path.read_bytes())
        model = model_class(resource["resourceType"]).model_validate(resource)
        assert _outline(to_xml(resource)) == _outline(model.model_dump_xml()), path.name
