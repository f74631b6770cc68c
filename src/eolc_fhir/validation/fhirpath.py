"""FHIRPath invariants, compiled once with fhirpathpy, with work-arounds for its known gaps.

fhirpathpy 2.2.4 gaps we meet (each has a test in tests/unit/validation/test_fhirpath.py):
- ``hasValue()`` and ``lowBoundary()`` are not implemented: we add them as user functions;
- ``$this is CarePlan`` is false on a resource: we rewrite ``$this is <ResourceType>``
  to a ``resourceType`` comparison before compiling;
- ``%resource`` / ``%rootResource`` are undefined: we pass them as context variables,
  typed nodes (a plain dict would be ``Object`` to ``type()``);
- ``ofType(BackboneElement)`` answers differently depending on earlier evaluations:
  an expression using it is refused at load time rather than trusted;
- a function it does not implement is only reported when evaluated: we list the
  functions an expression calls at load time and refuse unknown ones;
- its parser silently accepts syntax errors (``status = = 1``, ``foo(``): we parse
  with the same grammar and a raising error listener first, and require the
  whole text to be consumed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from antlr4 import CommonTokenStream, InputStream, ParseTreeWalker, Token
from antlr4.error.ErrorListener import ErrorListener
from fhirpathpy import apply_parsed_path
from fhirpathpy.engine.invocations import invocation_registry as _BUILTIN_FUNCTIONS
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.engine.util import set_paths
from fhirpathpy.models import models
from fhirpathpy.parser.ASTPathListener import ASTPathListener
from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

from eolc_fhir.fhir.models import resource_types

__all__ = [
    "Invariant",
    "compile_invariant",
    "compile_expression",
    "check_syntax",
    "called_functions",
    "parse_strict",
    "InvariantCompileError",
    "resource_node",
    "evaluate_node",
]

_MODEL: dict[str, Any] = models["r4"]
_IS_RESOURCE = re.compile(r"\$this\s+is\s+([A-Z][A-Za-z]+)\b")
_UNSTABLE = re.compile(r"ofType\(\s*BackboneElement\s*\)")


class InvariantCompileError(ValueError):
    """An invariant expression we cannot compile (or will not trust)."""


def _has_value(inputs: list[Any]) -> list[bool]:
    # A primitive "has a value" when it is a plain JSON scalar; an element that
    # carries only extensions (``_birthDate``) reaches us as a dict.
    return [len(inputs) == 1 and isinstance(inputs[0], str | int | float | bool)]


_DATE_LOW = {4: "-01-01", 7: "-01"}


def _low_boundary(inputs: list[Any]) -> list[str]:
    # Dates only (the only use in our profiles): "2026" -> "2026-01-01".
    if len(inputs) != 1 or not isinstance(inputs[0], str):
        return []
    text = inputs[0]
    return [text + _DATE_LOW.get(len(text), "")]


_USER_FUNCTIONS: dict[str, dict[str, Any]] = {
    "hasValue": {"fn": _has_value, "arity": {0: []}},
    "lowBoundary": {"fn": _low_boundary, "arity": {0: []}},
}


def _rewrite(expression: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in resource_types():
            return f"($this.resourceType = '{name}')"
        return match.group(0)

    return _IS_RESOURCE.sub(replace, expression)


class _RaisingListener(ErrorListener):  # type: ignore[misc]
    def syntaxError(
        self, recognizer: Any, symbol: Any, line: int, column: int, msg: str, e: Any
    ) -> None:
        raise InvariantCompileError(f"FHIRPath syntax error at column {column}: {msg}")


def parse_strict(expression: str) -> dict[str, Any]:
    """Parse once with fhirpathpy's grammar, raising on any syntax error; the AST it compiles."""
    listener = _RaisingListener()
    lexer = FHIRPathLexer(InputStream(expression))
    lexer.removeErrorListeners()
    lexer.addErrorListener(listener)
    tokens = CommonTokenStream(lexer)
    parser = FHIRPathParser(tokens)
    parser.buildParseTrees = True
    parser.removeErrorListeners()
    parser.addErrorListener(listener)
    tree = parser.expression()
    if tokens.LA(1) != Token.EOF:
        raise InvariantCompileError(f"FHIRPath has trailing text: {expression!r}")
    ast = ASTPathListener()
    ParseTreeWalker().walk(ast, tree)
    return ast.parentStack[0]


def check_syntax(expression: str) -> None:
    """Raise InvariantCompileError unless the whole text is one valid FHIRPath expression."""
    parse_strict(expression)


def _functions_in(ast: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    stack: list[Any] = [ast]
    while stack:
        node = stack.pop()
        if node.get("type") == "Functn":
            found.update(
                c["text"] for c in node.get("children", []) if c.get("type") == "Identifier"
            )
        stack.extend(node.get("children", []))
    return found


def called_functions(expression: str) -> set[str]:
    """Names of every function the expression invokes."""
    return _functions_in(parse_strict(expression))


def compile_expression(expression: str) -> Callable[[Any, Mapping[str, Any]], list[Any]]:
    """Compile a FHIRPath expression once (R4 model, our user functions and rewrites)."""
    if _UNSTABLE.search(expression):
        raise InvariantCompileError(
            f"ofType(BackboneElement) is unreliable in fhirpathpy: {expression}"
        )
    # One strict parse serves the syntax check, the function check and compilation
    # (fhirpathpy.compile would parse again, and the parser is the slow part).
    ast = parse_strict(_rewrite(expression))
    unknown = _functions_in(ast) - set(_BUILTIN_FUNCTIONS) - set(_USER_FUNCTIONS)
    if unknown:
        raise InvariantCompileError(
            f"FHIRPath functions not available: {', '.join(sorted(unknown))}"
        )
    options = {"userInvocationTable": _USER_FUNCTIONS}
    compiled = set_paths(apply_parsed_path, parsedPath=ast, model=_MODEL, options=options)
    return compiled


def evaluate_node(node: dict[str, Any], resource: Mapping[str, Any]) -> list[Any]:
    """Evaluate one node of a ``parse_strict`` AST on ``resource`` (FHIRPath Patch paths:
    fhir/patch_paths.py evaluates the sub-expressions it cannot place by itself)."""
    options = {"userInvocationTable": _USER_FUNCTIONS}
    parsed = node if node.get("type") is None else {"children": [node]}
    evaluate = set_paths(apply_parsed_path, parsedPath=parsed, model=_MODEL, options=options)
    result: list[Any] = evaluate(resource, {"resource": resource, "rootResource": resource})
    return result


@dataclass(frozen=True, slots=True)
class Invariant:
    """One ElementDefinition.constraint, compiled."""

    key: str
    severity: str
    human: str
    expression: str
    type_path: str
    fn: Callable[[Any, Mapping[str, Any]], list[Any]]

    def holds(self, value: Any, resource: Any, root_resource: Any) -> bool:
        """True unless the expression evaluates to false (empty counts as satisfied).

        ``resource`` and ``root_resource`` are typed nodes (``resource_node``): %resource
        is the resource the element is in (a contained one, for an element inside it) and
        %rootResource its container (FHIRPath, FHIR-specific variables).
        """
        if value is resource.data:
            node = value
        else:
            node = ResourceNode.create_node(value, self.type_path)
        result = self.fn(node, {"resource": resource, "rootResource": root_resource})
        return not (len(result) == 1 and result[0] is False)


def resource_node(resource: Mapping[str, Any]) -> Any:
    """A resource as a typed FHIRPath node, so that ``%resource.type().name`` is its type."""
    return ResourceNode.create_node(resource, str(resource.get("resourceType", "")) or None)


def compile_invariant(constraint: Mapping[str, Any], type_path: str) -> Invariant:
    """``type_path`` is the element's base path (``Flag.period``) or type (``Extension``)."""
    expression = constraint.get("expression")
    if not expression:
        raise InvariantCompileError(f"constraint {constraint.get('key')} has no expression")
    return Invariant(
        key=constraint["key"],
        severity=constraint.get("severity", "error"),
        human=constraint.get("human", constraint["key"]),
        expression=expression,
        type_path=type_path,
        fn=compile_expression(expression),
    )
