"""FHIR XML <-> the JSON form: lxml does the XML, the R4B models' element tables the FHIR.

    to_xml(resource)     a resource dict (as stored) -> FHIR XML bytes
    from_xml(body)       FHIR XML bytes -> the resource dict, ready for the strict JSON checks

The mapping is the one of the R4 XML format page: primitives carry ``value``
(and ``id``/``extension`` from the JSON ``_x`` sibling), element ids and
Extension.url are attributes, contained resources are wrapped in their
element, the narrative ``div`` is XHTML in its own namespace, and children come
in definition order (``elements_sequence`` of each model). Primitive values keep
their text, so a resource survives JSON -> XML -> JSON unchanged.

Reading is hardened: no DTD (so no entity expansion, internal or external), no
network, a nesting limit; every refusal is an ``InvalidRequest`` (400).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import orjson
from lxml import etree

from eolc_fhir.fhir._elements import PRIMITIVE, RESOURCE, Element, Shape, shape_of
from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.fhir.models import FHIRAbstractModel, is_resource_type, model_class, not_r4_type

__all__ = ["to_xml", "from_xml", "FHIR_NS"]

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
_F = "{" + FHIR_NS + "}"
_DIV = "{" + XHTML_NS + "}div"
_NUMBERS = frozenset({"decimal", "integer", "positiveInt", "unsignedInt"})
_NUMBER = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$")
# A DTD is the door to entity expansion (billion laughs) and external entities.
_DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")
# libxml2 escapes ">" inside attribute values, so a tag ends at the first ">".
_TAGS = re.compile(r"(<[^>]*>)")
Model = type[FHIRAbstractModel]


# --- writing ---------------------------------------------------------------------------


def to_xml(resource: dict[str, Any], *, pretty: bool = False) -> bytes:
    """The resource as FHIR XML (UTF-8, with an XML declaration)."""
    root = _resource_element(None, resource)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                pretty_print=pretty))


def _resource_element(parent: Any, resource: dict[str, Any]) -> Any:
    rtype = resource["resourceType"]
    if parent is None:
        node = etree.Element(_F + rtype, nsmap={None: FHIR_NS})
    else:
        node = etree.SubElement(parent, _F + rtype)
    _write_object(node, resource, model_class(rtype), is_resource=True)
    return node


def _write_object(node: Any, obj: dict[str, Any], model: Model, is_resource: bool) -> None:
    table, attributes = _table(model)
    found = []
    for key, value in obj.items():
        if key in attributes and not is_resource:
            node.set(key, value)
            continue
        if key[0] == "_":  # a "_x" without its "x" (a primitive with only extensions)
            key = key[1:]
            if key in obj:
                continue
        entry = table.get(key)
        if entry is not None:
            found.append(entry)
    found.sort()
    sub_element = etree.SubElement
    for _, name, kind, tag, type_name, sub_model in found:
        value = obj.get(name)
        if kind == PRIMITIVE:
            ext = obj.get("_" + name)
            if ext is None and type(value) is str and type_name != "xhtml":
                sub_element(node, tag).set("value", value)  # the common case, inline
            else:
                _write_primitives(node, name, value, ext, type_name)
            continue
        items: list[Any] = value if type(value) is list else [value]
        for item in items:
            child = sub_element(node, tag)
            if kind == RESOURCE:
                _resource_element(child, item)
            else:
                _write_object(child, item, sub_model, False)


_Entry = tuple[int, str, int, str, str, Any]


@cache
def _table(model: Model) -> tuple[dict[str, _Entry], frozenset[str]]:
    """Per element: (its place in the XML order, name, kind, tag, FHIR type, model), from the
    model's definition order; and the names that are XML attributes of this type."""
    elements = shape_of(model).elements
    table = {name: (i, name, elements[name].kind, _F + name, elements[name].type_name,
                    elements[name].model)
             for i, name in enumerate(model.elements_sequence()) if name in elements}
    is_extension = shape_of(model).name == "Extension"
    return table, frozenset({"id", "url"} if is_extension else {"id"})


def _write_primitives(node: Any, name: str, value: Any, ext: Any, type_name: str) -> None:
    if type_name == "xhtml":
        node.append(etree.fromstring(value, _div_parser()))
    elif ext is None and not isinstance(value, list):
        etree.SubElement(node, _F + name, value=_text(value))
    elif not isinstance(value, list) and not isinstance(ext, list):
        _write_primitive(node, name, value, ext)
    else:
        values = value if isinstance(value, list) else []
        exts = ext if isinstance(ext, list) else []
        for i in range(max(len(values), len(exts))):
            _write_primitive(node, name, values[i] if i < len(values) else None,
                             exts[i] if i < len(exts) else None)


def _write_primitive(node: Any, name: str, value: Any, ext: dict[str, Any] | None) -> None:
    child = etree.SubElement(node, _F + name)
    if ext:  # the JSON "_x" object: an element id and extensions
        if "id" in ext:
            child.set("id", ext["id"])
        for item in ext.get("extension") or ():
            _write_object(etree.SubElement(child, _F + "extension"), item, _extension_model(),
                          False)
    if value is not None:
        child.set("value", _text(value))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return orjson.dumps(value).decode()  # the text the JSON form has
    return str(value)


@cache
def _extension_model() -> Model:
    extension = shape_of(model_class("Basic")).elements["extension"].model
    assert extension is not None
    return extension


# --- reading ---------------------------------------------------------------------------


@cache
def _parser() -> Any:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_comments=True,
                           remove_pis=True)


@cache
def _div_parser() -> Any:
    """For the stored narrative (already checked as safe XHTML): keeps its comments."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def from_xml(body: bytes, *, max_depth: int = 64) -> dict[str, Any]:
    """A FHIR XML resource as its JSON form; ``InvalidRequest`` for anything refused."""
    if any(marker in body for marker in _DTD_MARKERS):
        raise InvalidRequest(_NO_DTD, code="security")
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as error:
        raise InvalidRequest(f"Malformed XML: {error}", code="structure") from None
    if root.getroottree().docinfo.doctype:  # e.g. a UTF-16 body the byte check missed
        raise InvalidRequest(_NO_DTD, code="security")
    return _Reader(max_depth).resource(root, 1)


_NO_DTD = "XML with a DTD or entity declarations is not accepted (FHIR XML has none)"


class _Reader:
    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth

    def resource(self, node: Any, depth: int) -> dict[str, Any]:
        rtype = self._fhir_name(node, "resource")
        if not is_resource_type(rtype):
            raise InvalidRequest(not_r4_type(rtype), expression=rtype, code="not-supported")
        out: dict[str, Any] = {"resourceType": rtype}
        self.object(node, out, model_class(rtype), rtype, depth, is_resource=True)
        return out

    def object(self, node: Any, out: dict[str, Any], model: Model, path: str, depth: int,
               is_resource: bool = False) -> None:
        if depth > self.max_depth:
            raise InvalidRequest(f"The XML is nested more than {self.max_depth} levels deep",
                                 code="too-costly")
        shape = shape_of(model)
        self._attributes(node, out, shape, path, is_resource)
        if node.text is not None and node.text.strip():
            raise InvalidRequest(f"{path}: text is not allowed here", expression=path,
                                 code="structure")
        found: dict[str, list[tuple[Any, Any]]] = {}
        for child in node:
            name = self._fhir_name(child, path, shape, is_resource)
            element = shape.elements[name]
            found.setdefault(name, []).append(self._child(child, element, f"{path}.{name}",
                                                          depth))
        for name, items in found.items():
            _assemble(out, shape.elements[name], name, items, path)

    def _attributes(self, node: Any, out: dict[str, Any], shape: Shape, path: str,
                    is_resource: bool) -> None:
        for name, value in node.attrib.items():
            if name == "id" and not is_resource:
                out["id"] = value
            elif name == "url" and shape.name == "Extension":
                out["url"] = value
            else:
                raise InvalidRequest(f"{path}: unknown attribute '{name}'", expression=path,
                                     code="structure")

    def _fhir_name(self, node: Any, path: str, shape: Shape | None = None,
                   is_resource: bool = False) -> str:
        tag = node.tag
        if not isinstance(tag, str):
            raise InvalidRequest(f"{path}: entity references are not accepted",
                                 expression=path, code="security")
        if tag.startswith(_F):
            name = tag[len(_F):]
            element = shape.elements.get(name) if shape is not None else None
            if shape is None or (element is not None and element.type_name != "xhtml"
                                 and not _is_attribute(name, shape, is_resource)):
                return name
        elif tag == _DIV and shape is not None and "div" in shape.elements:
            return "div"
        return self._refuse_name(tag, path)

    def _refuse_name(self, tag: str, path: str) -> str:
        qname = etree.QName(tag)
        where = f"{path}.{qname.localname}"
        if qname.namespace not in (FHIR_NS, XHTML_NS):
            raise InvalidRequest(f"{where}: elements must be in the FHIR namespace {FHIR_NS}",
                                 expression=where, code="structure")
        if qname.localname == "div":
            raise InvalidRequest(f"{where}: the narrative div must be XHTML "
                                 f"(namespace {XHTML_NS})", expression=where, code="structure")
        raise InvalidRequest(f"{where}: unknown element", expression=where, code="structure")

    def _child(self, node: Any, element: Element, path: str, depth: int) -> tuple[Any, Any]:
        """(the JSON value, the JSON ``_x`` object or None) of one child element."""
        if element.kind == PRIMITIVE:
            if element.type_name == "xhtml":
                return _div_text(node), None
            return self._primitive(node, element, path, depth)
        if element.kind == RESOURCE:
            inner = [c for c in node]
            if len(inner) != 1:
                raise InvalidRequest(f"{path}: must hold exactly one resource",
                                     expression=path, code="structure")
            return self.resource(inner[0], depth + 1), None
        assert element.model is not None
        obj: dict[str, Any] = {}
        self.object(node, obj, element.model, path, depth + 1)
        return obj, None

    def _primitive(self, node: Any, element: Element, path: str,
                   depth: int) -> tuple[Any, Any]:
        ext: dict[str, Any] = {}
        for name, value in node.attrib.items():
            if name == "id":
                ext["id"] = value
            elif name != "value":
                raise InvalidRequest(f"{path}: unknown attribute '{name}'", expression=path,
                                     code="structure")
        extensions = []
        for child in node:
            name = self._fhir_name(child, path)
            if name != "extension":
                where = f"{path}.{name}"
                raise InvalidRequest(f"{where}: unknown element", expression=where,
                                     code="structure")
            item: dict[str, Any] = {}
            self.object(child, item, _extension_model(), f"{path}.extension", depth + 1)
            extensions.append(item)
        if extensions:
            ext["extension"] = extensions
        if node.text is not None and node.text.strip():
            raise InvalidRequest(f"{path}: a primitive's value goes in its value attribute",
                                 expression=path, code="structure")
        raw = node.get("value")
        return (None if raw is None else _json_value(raw, element.type_name)), (ext or None)


def _div_text(node: Any) -> str:
    """The narrative div as the JSON string, quotes in text written ``&quot;`` as the FHIR
    reference serialisers (and so the official examples) write them."""
    text = etree.tostring(node, encoding="unicode", with_tail=False)
    return "".join(part if part.startswith("<") else part.replace('"', "&quot;")
                   for part in _TAGS.split(text))


def _is_attribute(name: str, shape: Shape, is_resource: bool) -> bool:
    """Element.id and Extension.url are attributes in XML, never child elements."""
    return (name == "id" and not is_resource) or (name == "url" and shape.name == "Extension")


def _json_value(raw: str, type_name: str) -> Any:
    """The JSON value of a primitive's text; text that is wrong for the type stays a string
    so that the strict JSON walk names the element."""
    if type_name == "boolean" and raw in ("true", "false"):
        return raw == "true"
    if type_name in _NUMBERS and _NUMBER.match(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:  # beyond a double (1e999): refused as in JSON
            return raw
    return raw


def _assemble(out: dict[str, Any], element: Element, name: str,
              items: list[tuple[Any, Any]], path: str) -> None:
    if not element.many and len(items) > 1:
        where = f"{path}.{name}"
        raise InvalidRequest(f"{where}: repeated, but it allows one value", expression=where,
                             code="structure")
    values = [v for v, _ in items]
    exts = [e for _, e in items]
    if element.many:
        if any(v is not None for v in values) or element.kind != PRIMITIVE:
            out[name] = values
        if any(e is not None for e in exts):
            out[f"_{name}"] = exts
        return
    if values[0] is not None or element.kind != PRIMITIVE:
        out[name] = values[0]
    if exts[0] is not None:
        out[f"_{name}"] = exts[0]
