"""Where a FHIRPath Patch ``path`` points: the places in the resource dict, not copies.

A FHIRPath engine answers with values; a patch needs their places (which dict,
which key, which list position) to change them. ``PathLocator`` walks the
parsed expression (fhirpathpy's AST, handed in by the caller with an evaluator
for sub-expressions) step by step: the resource type, member names (value[x]
choices included), indexers, ``first() last() tail() skip() take() single()``
by position, ``ofType()`` by the element definitions, and any other function
(``where``, ``exists``, ...) by evaluating it and keeping, in order, the places
whose values it answered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eolc_fhir.fhir._elements import COMPLEX, RESOURCE, Element, Shape, shape_of
from eolc_fhir.fhir.errors import ProfileViolation
from eolc_fhir.fhir.models import is_resource_type, model_class

__all__ = ["Place", "PathLocator", "Evaluate", "shape_at", "resource_shape"]

# Evaluate one node of a parsed FHIRPath expression on the resource: its values.
Evaluate = Callable[[dict[str, Any], dict[str, Any]], list[Any]]
_POSITIONAL = {"first", "last", "tail", "skip", "take", "single"}


@dataclass(frozen=True, slots=True)
class Place:
    """One element of the resource: ``parent[key]`` (or ``parent[key][index]``);
    ``parent`` None is the resource itself. ``element``: its definition and ``owner``
    the shape of ``parent``, when known."""

    parent: dict[str, Any] | None
    key: str
    index: int | None
    element: Element | None
    owner: Shape | None = None

    def value(self, root: dict[str, Any]) -> Any:
        if self.parent is None:
            return root
        held = self.parent[self.key]
        return held if self.index is None else held[self.index]


def resource_shape(value: Any) -> Shape | None:
    rtype = value.get("resourceType") if isinstance(value, dict) else None
    if isinstance(rtype, str) and is_resource_type(rtype):
        return shape_of(model_class(rtype))
    return None


def shape_at(place: Place, value: Any) -> Shape | None:
    """The shape of the complex value at ``place`` (None for primitives and unknowns)."""
    element = place.element
    if place.parent is None or (element is not None and element.kind == RESOURCE):
        return resource_shape(value)
    if element is not None and element.kind == COMPLEX and element.model is not None:
        return shape_of(element.model)
    return None


def _unsupported(text: str) -> ProfileViolation:
    return ProfileViolation(f"the patch path cannot be used to change the resource: {text}",
                            code="not-supported")


class PathLocator:
    """The places a parsed path selects in ``root``."""

    def __init__(self, root: dict[str, Any], evaluate: Evaluate) -> None:
        self.root = root
        self._evaluate = evaluate

    def evaluate(self, node: dict[str, Any], root: dict[str, Any]) -> list[Any]:
        """The FHIRPath engine's answer; what it cannot evaluate (a function it lacks, such
        as resolve(), or a type error) is the client's path, so a 422, never a crash."""
        try:
            return self._evaluate(node, root)
        except Exception as exc:  # fhirpathpy raises bare Exception and TypeError alike
            # Only "Not implemented: resolve" is worth quoting: other texts may hold values.
            text = str(exc) if str(exc).startswith("Not implemented") else type(exc).__name__
            raise ProfileViolation(f"the patch path cannot be evaluated ({text})",
                                   code="not-supported") from None

    def locate(self, node: dict[str, Any]) -> list[Place]:
        kind, kids = node.get("type"), node.get("children") or []
        if kind is None and len(kids) == 1:  # the parser's wrapper around the whole text
            return self.locate(kids[0])
        if kind == "TermExpression":
            return self._term(kids[0])
        if kind == "InvocationExpression":
            base, step = kids
            if step["type"] == "MemberInvocation":
                return self.members(self.locate(base), _identifier(step))
            if step["type"] == "FunctionInvocation":
                return self._function(node, self.locate(base), step["children"][0])
        if kind == "IndexerExpression":
            items = self.locate(kids[0])
            at = self._integer(kids[1])
            return items[at:at + 1] if at >= 0 else []
        raise _unsupported(f"'{node.get('text', kind)}' does not select elements")

    def _term(self, term: dict[str, Any]) -> list[Place]:
        root = [Place(None, "", None, None)]
        if term["type"] == "ParenthesizedTerm":
            return self.locate(term["children"][0])
        if term["type"] == "InvocationTerm" and term["children"][0]["type"] == "MemberInvocation":
            name = _identifier(term["children"][0])
            return root if name == self.root.get("resourceType") else self.members(root, name)
        raise _unsupported(f"'{term.get('text', term['type'])}' is not an element of the "
                           "resource")

    def members(self, places: list[Place], name: str) -> list[Place]:
        found: list[Place] = []
        for place in places:
            value = place.value(self.root)
            if not isinstance(value, dict):
                continue
            shape = shape_at(place, value)
            for key, element in _keys_for(shape, name, value):
                held = value[key]
                if isinstance(held, list):
                    found += [Place(value, key, i, element, shape) for i in range(len(held))]
                else:
                    found.append(Place(value, key, None, element, shape))
        return found

    def _function(self, node: dict[str, Any], items: list[Place],
                  functn: dict[str, Any]) -> list[Place]:
        name = _identifier(functn)
        args = functn["children"][1]["children"] if len(functn["children"]) > 1 else []
        if name == "ofType" and len(args) == 1:  # by the definitions: the engine's answers
            wanted = str(args[0].get("text", "")).removeprefix("FHIR.").lower()  # are not dicts
            return [p for p in items if self._type_of(p).lower() == wanted]
        if name not in _POSITIONAL:
            return self._matching(items, self.evaluate(node, self.root))
        count = self._integer(args[0]) if args else 0
        if name == "single" and len(items) > 1:
            raise ProfileViolation(f"single(): the path selects {len(items)} elements")
        chosen = {"first": items[:1], "last": items[-1:], "tail": items[1:],
                  "skip": items[count:], "take": items[:count], "single": items}
        return chosen[name]

    def _type_of(self, place: Place) -> str:
        if place.element is not None and place.element.kind != RESOURCE:
            return place.element.type_name
        value = place.value(self.root)
        return str(value.get("resourceType", "")) if isinstance(value, dict) else ""

    def _matching(self, items: list[Place], answers: list[Any]) -> list[Place]:
        """The places whose values are ``answers``, in order (a filter keeps order)."""
        kept: list[Place] = []
        for place in items:
            if len(kept) < len(answers) and _same(place.value(self.root), answers[len(kept)]):
                kept.append(place)
        if len(kept) != len(answers):
            raise _unsupported("it computes values that are not elements of the resource")
        return kept

    def _integer(self, node: dict[str, Any]) -> int:
        answer = self.evaluate(node, self.root)
        if len(answer) != 1 or not isinstance(answer[0], int) or isinstance(answer[0], bool):
            raise ProfileViolation("an index in the patch path is not one integer",
                                   code="value")
        return answer[0]


def _identifier(node: dict[str, Any]) -> str:
    ident = node["children"][0]
    text = str(ident.get("text", ""))
    return text.strip("`")


def _keys_for(shape: Shape | None, name: str,
              value: dict[str, Any]) -> list[tuple[str, Element | None]]:
    """The JSON keys of member ``name`` present in ``value`` (a value[x] choice: its one key)."""
    if shape is None:
        return [(name, None)] if name in value else []
    element = shape.elements.get(name)
    if element is not None:  # a plain element, or one choice by its full name (valueQuantity)
        return [(name, element)] if name in value else []
    return [(k, e) for k, e in shape.elements.items() if e.choice == name and k in value]


def _same(value: Any, answer: Any) -> bool:
    if isinstance(answer, Decimal) and isinstance(value, int | float) \
            and not isinstance(value, bool):
        return Decimal(str(value)) == answer
    return bool(value == answer) or (isinstance(value, str) and str(answer) == value)
