"""The strict walk: checks parsed JSON against the FHIR R4 JSON format rules.

It visits every property once, driven by the cached shapes of ``_elements``,
and records one Issue per problem with the FHIRPath of the element:
unknown elements, nulls and empty objects/arrays/strings, JSON types that do
not match the FHIR type, arrays where one value is expected (and the reverse),
primitive formats, ``_x`` extension siblings, value[x] choices, required
elements, ext-1 and ele-1, and contained / Bundle resources by their own type.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from eolc_fhir.fhir._elements import COMPLEX, PRIMITIVE, Element, Shape, shape_of
from eolc_fhir.fhir._primitives import WRONG_JSON_TYPE, CodeNotAllowed, json_kind
from eolc_fhir.fhir.errors import Issue
from eolc_fhir.fhir.models import is_resource_type, model_class, not_r4_type

__all__ = ["walk_resource", "primitive_extension_shape"]

_MISSING = object()
_MAX_ISSUES = 100


@cache
def primitive_extension_shape() -> Shape:
    """The shape of a ``_x`` object (id and extension), found through any primitive."""
    info = model_class("Patient").model_fields["active__ext"]
    model = next(a for a in info.annotation.__args__ if hasattr(a, "get_model_klass"))  # type: ignore[union-attr]
    return shape_of(model.get_model_klass())


class _Walk:
    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self.ext_shape = primitive_extension_shape()

    def add(self, code: str, path: str, message: str) -> None:
        if len(self.issues) < _MAX_ISSUES:
            self.issues.append(Issue("error", code, f"{path}: {message}", (path,)))

    def resource(self, value: Any, path: str, type_path: str) -> None:
        """A resource at ``path``; ``type_path`` locates its resourceType in messages."""
        if not isinstance(value, dict):
            self.add(
                "structure", path, f"expected a resource (a JSON object), got {json_kind(value)}"
            )
            return
        resource_type = value.get("resourceType", _MISSING)
        if resource_type is _MISSING:
            self.add("required", type_path, "a resource must have a resourceType")
        elif not isinstance(resource_type, str):
            self.add(
                "structure",
                type_path,
                f"resourceType must be a string, got {json_kind(resource_type)}",
            )
        elif not is_resource_type(resource_type):
            self.add(
                "not-supported", type_path, not_r4_type(resource_type)
            )
        else:
            self.object(value, shape_of(model_class(resource_type)), path)

    def object(self, obj: dict[str, Any], shape: Shape, path: str) -> None:
        if not obj:
            self.add(
                "structure",
                path,
                "empty objects are not allowed in FHIR JSON; omit the element instead",
            )
            return
        elements = shape.elements
        chosen: dict[str, list[str]] = {}
        for key, value in obj.items():
            element = elements.get(key)
            if element is None:
                self.other_key(obj, shape, key, value, path, chosen)
                continue
            if element.choice is not None:
                chosen.setdefault(element.choice, []).append(key)
            check = element.check
            if (
                check is not None
                and value is not None
                and not element.many
                and type(value) is not list
            ):
                # The common case, kept inline: a single primitive, its path built only on error.
                problem = check(value)
                if problem is not None:
                    self.primitive_problem(f"{path}.{key}", problem)
            else:
                self.value(element, value, f"{path}.{key}", obj)
        if shape.plain:
            if len(obj) == 1 and "id" in obj:
                self.add(
                    "invalid",
                    path,
                    "an element must have a value or children besides its id (ele-1)",
                )
        else:
            self.completeness(obj, shape, path, chosen)

    def primitive_problem(self, path: str, problem: str) -> None:
        if isinstance(problem, CodeNotAllowed):
            self.add("code-invalid", path, problem)
        else:
            self.add("structure" if problem.startswith(WRONG_JSON_TYPE) else "value", path, problem)

    def other_key(
        self,
        obj: dict[str, Any],
        shape: Shape,
        key: str,
        value: Any,
        path: str,
        chosen: dict[str, list[str]],
    ) -> None:
        """A key that is not an element name: resourceType, a ``_x`` sibling or unknown."""
        if key == "resourceType" and shape.is_resource:
            return
        if key.startswith("_"):
            element = shape.elements.get(key[1:])
            if element is not None and element.extensible:
                if element.choice is not None and element.key not in obj:
                    chosen.setdefault(element.choice, []).append(element.key)
                self.extension_sibling(
                    element, value, obj.get(element.key, _MISSING), f"{path}.{element.key}"
                )
                return
        self.add("structure", f"{path}.{key}", f"unknown element '{key}' in {shape.name}")

    def completeness(
        self, obj: dict[str, Any], shape: Shape, path: str, chosen: dict[str, list[str]]
    ) -> None:
        """Required elements, one value per choice, and the ele-1 / ext-1 invariants."""
        for element in shape.required:
            if element.key not in obj and f"_{element.key}" not in obj:
                self.add(
                    "required", f"{path}.{element.key}", "a required element is missing (minimum 1)"
                )
        for prefix, (required, keys) in shape.choices.items():
            found = chosen.get(prefix, ())
            if len(found) > 1:
                self.add(
                    "structure",
                    f"{path}.{found[1]}",
                    f"only one of {', '.join(found)} is allowed ({prefix}[x])",
                )
            elif required and not found:
                self.add("required", f"{path}.{prefix}[x]", f"one of {', '.join(keys)} is required")
        if shape.name == "Extension" and ("extension" in obj) == bool(chosen.get("value")):
            self.add(
                "invalid",
                path,
                "an extension must have either a value[x] or nested extensions, not both (ext-1)",
            )
        elif (
            not shape.is_resource and shape is not self.ext_shape and len(obj) == 1 and "id" in obj
        ):
            self.add(
                "invalid", path, "an element must have a value or children besides its id (ele-1)"
            )

    def value(self, element: Element, value: Any, path: str, parent: dict[str, Any]) -> None:
        if value is None:
            self.add("structure", path, "null is not allowed here; omit the element instead")
        elif element.many:
            self.array(element, value, path, parent)
        elif isinstance(value, list):
            self.add(
                "structure",
                path,
                f"expected a single value, got an array ({element.key} is not repeating)",
            )
        else:
            self.single(element, value, path)

    def array(self, element: Element, value: Any, path: str, parent: dict[str, Any]) -> None:
        if not isinstance(value, list):
            self.add(
                "structure",
                path,
                f"expected an array ({element.key} repeats), got {json_kind(value)}",
            )
            return
        if not value:
            self.add(
                "structure",
                path,
                "empty arrays are not allowed in FHIR JSON; omit the element instead",
            )
            return
        siblings = parent.get(f"_{element.key}") if element.kind == PRIMITIVE else None
        check = element.check
        for index, item in enumerate(value):
            if item is None:
                # A null only holds the place of a value that has just an extension.
                if not (
                    isinstance(siblings, list)
                    and index < len(siblings)
                    and isinstance(siblings[index], dict)
                ):
                    self.add(
                        "structure",
                        f"{path}[{index}]",
                        "null is only allowed where the _ array has an extension",
                    )
            elif check is not None:
                problem = check(item)
                if problem is not None:
                    self.primitive_problem(f"{path}[{index}]", problem)
            else:
                self.single(element, item, f"{path}[{index}]")

    def single(self, element: Element, value: Any, path: str) -> None:
        if element.check is not None:
            problem = element.check(value)
            if problem is not None:
                self.primitive_problem(path, problem)
        elif element.kind == COMPLEX:
            if isinstance(value, dict):
                assert element.model is not None
                self.object(value, shape_of(element.model), path)
            else:
                self.add(
                    "structure",
                    path,
                    f"expected an object ({element.type_name}), got {json_kind(value)}",
                )
        else:
            self.resource(value, path, f"{path}.resourceType")

    def extension_sibling(self, element: Element, ext: Any, value: Any, path: str) -> None:
        """``_x``: the id/extension of primitive ``x``; an array lined up with x if x repeats."""
        if ext is None:
            self.add("structure", path, "null is not allowed for _" + element.key)
        elif not element.many:
            if isinstance(ext, dict):
                self.extension_object(ext, value is _MISSING, path)
            else:
                self.add(
                    "structure", path, f"_{element.key} must be an object, got {json_kind(ext)}"
                )
        elif not isinstance(ext, list):
            self.add("structure", path, f"_{element.key} must be an array, got {json_kind(ext)}")
        elif not ext:
            self.add(
                "structure",
                path,
                "empty arrays are not allowed in FHIR JSON; omit the element instead",
            )
        elif isinstance(value, list) and len(value) != len(ext):
            self.add(
                "structure",
                path,
                f"{element.key} and _{element.key} must have the same number of items",
            )
        else:
            self.extension_items(ext, value if isinstance(value, list) else None, path)

    def extension_items(self, ext: list[Any], values: list[Any] | None, path: str) -> None:
        for index, item in enumerate(ext):
            item_path = f"{path}[{index}]"
            if isinstance(item, dict):
                self.extension_object(item, values is None or values[index] is None, item_path)
            elif item is not None:
                self.add(
                    "structure", item_path, f"expected an object or null, got {json_kind(item)}"
                )
            elif values is None:
                self.add(
                    "structure",
                    item_path,
                    "null is not allowed here; there is no value to line up with",
                )

    def extension_object(self, ext: dict[str, Any], without_value: bool, path: str) -> None:
        self.object(ext, self.ext_shape, path)
        if without_value and ext and "extension" not in ext:
            self.add("required", path, "an element without a value must have an extension")


def walk_resource(resource: dict[str, Any], root: str) -> list[Issue]:
    """Every JSON-format problem in ``resource`` (whose type the caller has checked)."""
    walk = _Walk()
    walk.object(resource, shape_of(model_class(root)), root)
    return walk.issues
