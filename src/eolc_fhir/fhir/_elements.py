"""What each R4B model allows in JSON: element names, FHIR types, cardinality, choices.

The R4B pydantic models coerce in lax mode ("true" becomes True), so they
cannot tell us whether the JSON itself was right. This module reads each
model's field declarations once and keeps a small, cached description that
the strict JSON walk in ``_walk`` interprets.
"""

from __future__ import annotations

import datetime
import decimal
import typing
import uuid
from dataclasses import dataclass, field, replace
from types import NoneType, UnionType
from typing import Any

from eolc_fhir.fhir._primitives import PRIMITIVE_TYPES, Checker, bound_code
from eolc_fhir.fhir.models import FHIRAbstractModel

__all__ = ["Element", "Shape", "shape_of", "PRIMITIVE", "COMPLEX", "RESOURCE"]

PRIMITIVE, COMPLEX, RESOURCE = 0, 1, 2

# fhir_core marks each primitive with an annotation object named after the FHIR type.
_MARKERS = {
    "Base64Binary": "base64Binary",
    "Canonical": "canonical",
    "Code": "code",
    "Date": "date",
    "DateTime": "dateTime",
    "Decimal": "decimal",
    "Id": "id",
    "Instant": "instant",
    "Integer": "integer",
    "Markdown": "markdown",
    "Oid": "oid",
    "PositiveInt": "positiveInt",
    "String": "string",
    "Time": "time",
    "UnsignedInt": "unsignedInt",
    "Uri": "uri",
    "Url": "url",
    "UuidVersion": "uuid",
    "Xhtml": "xhtml",
}
_PLAIN = {
    bool: "boolean",
    str: "string",
    int: "integer",
    float: "decimal",
    decimal.Decimal: "decimal",
    datetime.datetime: "dateTime",
    datetime.date: "date",
    datetime.time: "time",
    uuid.UUID: "uuid",
}
# The codes of a required binding: fhir.resources lists them (enum_values) from the
# element's short description in the specification. Where that list ends in "+" it is cut
# short, and these two descriptions are not lists of codes at all ("formats supported (xml |
# json | ttl | mime type)", an extensible "text/cql | ... | etc."): none of those is checked.
_NOT_CODE_LISTS = frozenset({("CapabilityStatement", "format"), ("Expression", "language")})
# Resource and DomainResource fields (contained, Bundle.entry.resource) hold any resource.
_ABSTRACT_RESOURCES = frozenset({"Resource", "DomainResource"})


@dataclass(frozen=True, slots=True)
class Element:
    """One JSON property of a FHIR type."""

    key: str
    kind: int
    type_name: str
    many: bool
    required: bool
    choice: str | None
    model: type[FHIRAbstractModel] | None
    check: Checker | None = None  # primitives only: value -> problem or None
    extensible: bool = False  # a "_key" sibling may carry its id/extension


@dataclass(slots=True)
class Shape:
    """Every JSON property a FHIR type allows, keyed by its JSON name."""

    name: str
    elements: dict[str, Element] = field(default_factory=dict)
    required: tuple[Element, ...] = ()
    choices: dict[str, tuple[bool, tuple[str, ...]]] = field(default_factory=dict)
    is_resource: bool = False
    # Nothing required, no choices, not an Extension: only ele-1 is left to check.
    plain: bool = False


_SHAPES: dict[type[Any], Shape] = {}


def shape_of(model: type[FHIRAbstractModel]) -> Shape:
    """The (cached) JSON shape of an R4B model class."""
    shape = _SHAPES.get(model)
    if shape is None:
        shape = _build_shape(model)
        _SHAPES[model] = shape
    return shape


def _build_shape(model: type[FHIRAbstractModel]) -> Shape:
    name = model.get_resource_type()
    shape = Shape(name=name, is_resource=_is_resource_model(model))
    choices: dict[str, tuple[bool, list[str]]] = {}
    aliases = {info.alias for info in model.model_fields.values()}
    for info in model.model_fields.values():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if not extra.get("element_property") or not info.alias:
            continue  # "__ext" siblings and fhir_comments: we handle "_x" ourselves
        element = _element(info.alias, info.annotation, extra, info.is_required())
        codes = _required_codes(name, element, extra)
        if codes is not None:
            element = replace(element, check=bound_code(codes))
        if element.kind == PRIMITIVE and _extensible(name, element.key, aliases):
            element = replace(element, extensible=True)
        shape.elements[element.key] = element
        if element.choice is not None:
            required = extra.get("one_of_many_required") is True
            choices.setdefault(element.choice, (required, []))[1].append(element.key)
    if name == "FHIRPrimitiveExtension":
        _add_primitive_extension_elements(model, shape)
    shape.required = tuple(e for e in shape.elements.values() if e.required and e.choice is None)
    shape.choices = {prefix: (req, tuple(keys)) for prefix, (req, keys) in choices.items()}
    shape.plain = not (shape.required or shape.choices or shape.is_resource or name == "Extension")
    if name == "FHIRPrimitiveExtension":
        shape.plain = False  # "_x" may hold just an id: ele-1 is judged with its value
    return shape


def _required_codes(type_name: str, element: Element,
                    extra: dict[str, Any]) -> tuple[str, ...] | None:
    """The whole list of codes a ``code`` element's required binding allows, if known."""
    codes = extra.get("enum_values")
    if element.type_name != "code" or not codes or "+" in codes or \
            (type_name, element.key) in _NOT_CODE_LISTS:
        return None
    return tuple(codes)


def _extensible(type_name: str, key: str, aliases: set[str | None]) -> bool:
    """Whether ``_key`` is allowed: the model declares it, or it is an Extension's value[x].

    XML attributes (Element.id, Extension.url) have no ``_`` form. The R4B
    Extension model omits ``_valueString`` and friends, which R4 JSON allows.
    """
    return f"_{key}" in aliases or (type_name == "Extension" and key.startswith("value"))


def _add_primitive_extension_elements(model: type[FHIRAbstractModel], shape: Shape) -> None:
    """The "_x" object: its fields are not flagged as element properties."""
    for key in ("id", "extension"):
        info = model.model_fields[key]
        shape.elements[key] = _element(key, info.annotation, {}, False)


def _element(key: str, annotation: Any, extra: dict[str, Any], required: bool) -> Element:
    many, leaf = _unwrap(annotation)
    choice = extra.get("one_of_many")
    is_required = required or extra.get("element_required") is True
    model = _model_of(leaf)
    if model is None:
        name = _primitive_name(leaf)
        return Element(key, PRIMITIVE, name, many, is_required, choice, None, PRIMITIVE_TYPES[name])
    if model.get_resource_type() in _ABSTRACT_RESOURCES:
        return Element(key, RESOURCE, "Resource", many, is_required, choice, None)
    return Element(key, COMPLEX, model.get_resource_type(), many, is_required, choice, model)


def _unwrap(annotation: Any) -> tuple[bool, Any]:
    """Strip Optional/Union/List; return (is a list, the single leaf type)."""
    many = False
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, UnionType):
            args = [a for a in typing.get_args(annotation) if a is not NoneType]
            # Url is Annotated[Union[AnyUrl, str], Url()]: only unions of real types remain.
            if len(args) != 1:
                return many, annotation
            annotation = args[0]
        elif origin is list:
            many = True
            annotation = typing.get_args(annotation)[0]
        else:
            return many, annotation


def _model_of(leaf: Any) -> type[FHIRAbstractModel] | None:
    getter = getattr(leaf, "get_model_klass", None)
    if getter is None:
        return None
    model: type[FHIRAbstractModel] = getter()
    return model


def _primitive_name(leaf: Any) -> str:
    if typing.get_origin(leaf) is typing.Annotated:
        for marker in leaf.__metadata__:
            name = _MARKERS.get(type(marker).__name__)
            if name is not None:
                return name
        leaf = typing.get_args(leaf)[0]
    name = _PLAIN.get(leaf)
    if name is None:
        raise TypeError(f"unknown FHIR primitive annotation {leaf!r}")
    return name


def _is_resource_model(model: type[FHIRAbstractModel]) -> bool:
    return any(base.__name__ == "Resource" for base in model.__mro__)
