"""FHIRPath Patch (a Parameters resource of ``operation`` parameters) on a resource dict.

    read_fhirpath_patch(parameters)           400 unless every operation is well formed
    apply_fhirpath_patch(resource, ops, ...)  the patched copy; 422 naming the failing one

Operation types as the R4 specification's FHIRPath Patch page gives them: ``add``
(property ``name`` with ``value`` on the one element ``path`` selects), ``insert``
(``value`` at ``index`` of the list ``path`` names), ``delete`` (the one element, if
found), ``replace`` (the one element's value) and ``move`` (``source`` to
``destination`` within the list). A value is a ``value[x]`` part or, for a complex
or anonymous type, nested parts named after its elements. Places come from
``patch_paths``; parsing and evaluating FHIRPath are handed in by the caller.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eolc_fhir.fhir._elements import Element, Shape, shape_of
from eolc_fhir.fhir.errors import FhirError, InvalidRequest, Issue, ProfileViolation
from eolc_fhir.fhir.patch_paths import Evaluate, PathLocator, Place, shape_at

__all__ = ["PatchValue", "FhirPathOperation", "read_fhirpath_patch", "apply_fhirpath_patch",
           "MAX_OPERATIONS"]

Parse = Callable[[str], dict[str, Any]]
# Each operation's path is parsed and evaluated (~1-2 ms): a bound keeps one request cheap.
MAX_OPERATIONS = 500
_NEEDS = {"add": ("path", "name", "value"), "insert": ("path", "value", "index"),
          "delete": ("path",), "replace": ("path", "value"),
          "move": ("path", "source", "destination")}


@dataclass(frozen=True, slots=True)
class PatchValue:
    """A ``value[x]`` (``type``: the part's suffix, e.g. "Quantity") or nested named parts."""

    type: str | None
    json: Any = None
    parts: tuple[tuple[str, PatchValue], ...] = ()


@dataclass(frozen=True, slots=True)
class FhirPathOperation:
    type: str
    path: str
    where: str  # Parameters.parameter[i]: where the operation was sent
    name: str | None = None
    value: PatchValue | None = None
    index: int | None = None
    source: int | None = None
    destination: int | None = None


def read_fhirpath_patch(parameters: dict[str, Any]) -> list[FhirPathOperation]:
    """The operations of a FHIRPath Patch Parameters resource; 400 for a malformed one."""
    params = parameters.get("parameter") or []
    if not params:
        raise InvalidRequest("the FHIRPath Patch has no operation parameters",
                             code="required", expression="Parameters.parameter")
    if len(params) > MAX_OPERATIONS:
        raise InvalidRequest(f"the FHIRPath Patch has {len(params)} operations; at most "
                             f"{MAX_OPERATIONS} are accepted", code="too-costly",
                             expression="Parameters.parameter")
    return [_operation(p, f"Parameters.parameter[{i}]") for i, p in enumerate(params)]


def _operation(param: dict[str, Any], where: str) -> FhirPathOperation:
    if param.get("name") != "operation":
        raise InvalidRequest(f"a FHIRPath Patch parameter is named 'operation', not "
                             f"{param.get('name')!r}", expression=f"{where}.name")
    parts: dict[str, dict[str, Any]] = {}
    for i, part in enumerate(param.get("part") or []):
        if part.get("name") in parts:
            raise InvalidRequest(f"the part '{part.get('name')}' is repeated",
                                 expression=f"{where}.part[{i}]")
        parts[str(part.get("name"))] = part
    kind = (parts.get("type") or {}).get("valueCode")
    if kind not in _NEEDS:
        raise InvalidRequest(f"operation type {kind!r} is not one of {', '.join(_NEEDS)}",
                             code="value", expression=f"{where}.part")
    for needed in _NEEDS[kind]:
        if needed not in parts:
            raise InvalidRequest(f"a '{kind}' operation needs the part '{needed}'",
                                 code="required", expression=f"{where}.part")
    return FhirPathOperation(
        kind, _string(parts, "path", where), where,
        name=_string(parts, "name", where) if "name" in parts else None,
        value=_value(parts["value"], where) if "value" in parts else None,
        index=_int(parts, "index", where), source=_int(parts, "source", where),
        destination=_int(parts, "destination", where))


def _string(parts: dict[str, dict[str, Any]], name: str, where: str) -> str:
    value = parts[name].get("valueString")
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"the part '{name}' needs a valueString", code="required",
                             expression=f"{where}.part")
    return value


def _int(parts: dict[str, dict[str, Any]], name: str, where: str) -> int | None:
    if name not in parts:
        return None
    value = parts[name].get("valueInteger")
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidRequest(f"the part '{name}' needs a valueInteger of 0 or more",
                             code="value", expression=f"{where}.part")
    return value


def _value(part: dict[str, Any], where: str) -> PatchValue:
    typed = [k for k in part if k.startswith("value") and k[5:6].isupper()]
    if len(typed) == 1:
        return PatchValue(typed[0][5:], part[typed[0]])
    nested = part.get("part")
    if not typed and nested:
        return PatchValue(None, parts=tuple((str(p.get("name")), _value(p, where))
                                            for p in nested))
    raise InvalidRequest(f"the part '{part.get('name')}' needs one value[x] or nested parts",
                         code="required", expression=f"{where}.part")


def apply_fhirpath_patch(resource: dict[str, Any], operations: list[FhirPathOperation],
                         parse: Parse, evaluate: Evaluate) -> dict[str, Any]:
    """Apply ``operations`` in order to a copy of ``resource`` (the input is never changed);
    ``ProfileViolation`` (422) naming the operation and its path for one that cannot apply."""
    patched: dict[str, Any] = copy.deepcopy(resource)
    for op in operations:
        try:
            tree = parse(op.path)
        except ValueError as exc:
            raise InvalidRequest(f"{op.where}: the path '{op.path}' is not FHIRPath: {exc}",
                                 code="value", expression=op.where) from None
        try:
            _Apply(patched, PathLocator(patched, evaluate)).run(op, tree)
        except FhirError as exc:
            raise ProfileViolation(issues=[Issue(
                "error", i.code, f"{op.where} ({op.type} at {op.path}): {i.diagnostics}",
                (op.path, op.where)) for i in exc.issues]) from None
    return patched


class _Apply:
    def __init__(self, root: dict[str, Any], locator: PathLocator) -> None:
        self.root, self.locator = root, locator

    def run(self, op: FhirPathOperation, tree: dict[str, Any]) -> None:
        if op.type in ("insert", "move"):
            self._in_list(op, tree)
            return
        places = self.locator.locate(tree)
        if op.type == "delete" and not places:
            return  # deleting what is not there changes nothing
        if len(places) != 1:
            raise ProfileViolation(f"the path selects {len(places)} elements; "
                                   f"{op.type} needs exactly one")
        place = places[0]
        if op.type == "add":
            self._add(place, op.name or "", op.value)
        elif op.type == "delete":
            _delete(place)
        else:
            self._replace(place, op.value)

    def _add(self, place: Place, name: str, value: PatchValue | None) -> None:
        target = place.value(self.root)
        if not isinstance(target, dict):
            raise ProfileViolation("add needs a path to a complex element, not a primitive")
        key, element = _element_for(shape_at(place, target), name, value)
        json = _json(value, element)
        if element is not None and element.many:
            held = target.setdefault(key, [])
            held.append(json)
        elif key in target or _other_choice(target, element):
            raise ProfileViolation(f"'{name}' is already present; use replace")
        else:
            target[key] = json

    def _replace(self, place: Place, value: PatchValue | None) -> None:
        if place.parent is None:
            raise ProfileViolation("replace cannot replace the resource itself")
        element = place.element
        if place.index is None and element is not None and element.choice is not None:
            key, element = _element_for(place.owner, element.choice, value)
            del place.parent[place.key]
            place.parent.pop(f"_{place.key}", None)
            place.parent[key] = _json(value, element)
            return
        json = _json(value, element)
        if place.index is None:
            place.parent[place.key] = json
        else:
            place.parent[place.key][place.index] = json

    def _in_list(self, op: FhirPathOperation, tree: dict[str, Any]) -> None:
        parent, key, element = self._list_of(tree)
        items: list[Any] = parent.get(key, [])
        if op.type == "insert":
            assert op.index is not None
            if op.index > len(items):
                raise ProfileViolation(f"index {op.index} is past the end of the list "
                                       f"({len(items)} items)")
            items.insert(op.index, _json(op.value, element))
            _shift_extensions(parent, key, lambda ext: ext.insert(op.index or 0, None))
        else:
            assert op.source is not None and op.destination is not None
            if max(op.source, op.destination) >= len(items):
                raise ProfileViolation(f"source {op.source} or destination {op.destination} "
                                       f"is outside the list ({len(items)} items)")
            items.insert(op.destination, items.pop(op.source))
            _shift_extensions(parent, key, lambda ext: ext.insert(
                op.destination or 0, ext.pop(op.source or 0)))
        parent[key] = items

    def _list_of(self, tree: dict[str, Any]) -> tuple[dict[str, Any], str, Element | None]:
        """The list a path names: its last step must be a member (``Patient.identifier``)."""
        node = tree["children"][0] if tree.get("type") is None else tree
        kids = node.get("children") or []
        if node.get("type") != "InvocationExpression" or \
                kids[1]["type"] != "MemberInvocation":
            raise ProfileViolation("insert and move need a path ending in a list element's "
                                   "name, such as Patient.identifier")
        owners = self.locator.locate(kids[0])
        if len(owners) != 1 or not isinstance(owners[0].value(self.root), dict):
            raise ProfileViolation(f"the list's owner is {len(owners)} elements, not one")
        owner = owners[0].value(self.root)
        name = str(kids[1]["children"][0].get("text", ""))
        shape = shape_at(owners[0], owner)
        element = shape.elements.get(name) if shape is not None else None
        if shape is not None and (element is None or not element.many):
            raise ProfileViolation(f"'{name}' is not a repeating element")
        return owner, name, element


def _element_for(shape: Shape | None, name: str,
                 value: PatchValue | None) -> tuple[str, Element | None]:
    """The JSON key and definition of element ``name`` for ``value`` (value[x]: by type)."""
    if shape is None:
        return name, None
    element = shape.elements.get(name)
    if element is not None and element.choice is None:
        return name, element
    if value is not None and value.type is not None:
        key = f"{name}{value.type}"
        chosen = shape.elements.get(key)
        if chosen is not None and chosen.choice == name:
            return key, chosen
    raise ProfileViolation(f"{shape.name} has no element '{name}'"
                           + (f" of type {value.type}" if value and value.type else ""))


def _other_choice(target: dict[str, Any], element: Element | None) -> bool:
    if element is None or element.choice is None:
        return False
    prefix = element.choice
    return any(k.startswith(prefix) and k[len(prefix):len(prefix) + 1].isupper()
               for k in target)


def _json(value: PatchValue | None, element: Element | None) -> Any:
    """The JSON of ``value`` as element ``element`` holds it."""
    assert value is not None
    if value.type is not None:
        return copy.deepcopy(value.json)
    shape = shape_of(element.model) if element is not None and element.model else None
    built: dict[str, Any] = {}
    for name, part in value.parts:
        key, inner = _element_for(shape, name, part)
        json = _json(part, inner)
        if inner is not None and inner.many:
            built.setdefault(key, []).append(json)
        elif key in built:
            raise ProfileViolation(f"'{name}' is given twice but does not repeat")
        else:
            built[key] = json
    return built


def _delete(place: Place) -> None:
    parent = place.parent
    if parent is None:
        raise ProfileViolation("delete cannot delete the resource itself")
    if place.index is None:
        del parent[place.key]
        parent.pop(f"_{place.key}", None)
        return
    parent[place.key].pop(place.index)
    _shift_extensions(parent, place.key, lambda ext: ext.pop(place.index or 0))
    if not parent[place.key]:
        del parent[place.key]
        parent.pop(f"_{place.key}", None)


def _shift_extensions(parent: dict[str, Any], key: str,
                      change: Callable[[list[Any]], Any]) -> None:
    """Keep a primitive list's ``_key`` (ids and extensions) in step with its values."""
    held = parent.get(f"_{key}")
    if isinstance(held, list):
        change(held)
