"""The FHIRPath subset search parameter expressions use, compiled once, run on dicts.

Supported: unions (``a | b``), dotted paths with choice elements
(``Observation.effective``), ``X.as(T)`` / ``(X as T)``, ``where(resolve() is T)``
on references, ``where(field='value')``, and the R4 ``deceased`` idiom
``X.exists() and X != false``. Anything else is refused when loading.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["CompiledExpression", "ExpressionError", "compile_expression", "reference_type"]


class ExpressionError(ValueError):
    """The expression uses FHIRPath we do not evaluate."""


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    as_type: str | None = None


@dataclass(frozen=True, slots=True)
class _WhereResolve:
    target_type: str


@dataclass(frozen=True, slots=True)
class _WhereEquals:
    field: str
    value: str


_Step = _Field | _WhereResolve | _WhereEquals
_WHERE_RESOLVE = re.compile(r"^where\(resolve\(\)\s+is\s+(\w+)\)$")
_WHERE_EQUALS = re.compile(r"^where\((\w+)\s*=\s*'([^']*)'\)$")
_AS = re.compile(r"^(?:as|ofType)\((\w+)\)$")
_EXISTS_IDIOM = re.compile(r"^([\w.]+)\.exists\(\) and \1 != false$")


@dataclass(frozen=True, slots=True)
class CompiledExpression:
    """A union of paths; ``presence`` marks the exists-and-not-false idiom."""

    paths: tuple[tuple[_Step, ...], ...]
    presence: bool = False

    def evaluate(self, resource: dict[str, Any]) -> list[Any]:
        out: list[Any] = []
        for path in self.paths:
            out.extend(_walk([resource], path))
        if self.presence:
            return [any(v is not False for v in out)]
        return out


def compile_expression(text: str) -> CompiledExpression:
    """Compile an R4 search parameter expression (``ExpressionError`` if unsupported)."""
    text = text.strip()
    idiom = _EXISTS_IDIOM.match(text)
    if idiom:
        return CompiledExpression((_parse_path(idiom.group(1)),), presence=True)
    return CompiledExpression(tuple(_parse_path(part) for part in _split(text, "|")))


def _split(text: str, sep: str) -> list[str]:
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and ch == sep:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def _parse_path(text: str) -> tuple[_Step, ...]:
    as_type = None
    if text.startswith("(") and text.endswith(")"):
        inner = text[1:-1].strip()
        if " as " not in inner:
            raise ExpressionError(text)
        text, as_type = (s.strip() for s in inner.rsplit(" as ", 1))
    segments = _split(text, ".")
    if len(segments) < 2 or not segments[0].isidentifier():
        raise ExpressionError(text)
    steps: list[_Step] = []
    for seg in segments[1:]:
        steps.append(_parse_step(seg, steps, text))
    if as_type is not None:
        steps = _with_type(steps, as_type, text)
    return tuple(s for s in steps if s is not None)


def _parse_step(seg: str, steps: list[_Step], text: str) -> _Step:
    if seg.isidentifier():
        return _Field(seg)
    if m := _WHERE_RESOLVE.match(seg):
        return _WhereResolve(m.group(1))
    if m := _WHERE_EQUALS.match(seg):
        return _WhereEquals(m.group(1), m.group(2))
    if m := _AS.match(seg):
        last = steps.pop() if steps else None
        if not isinstance(last, _Field):
            raise ExpressionError(text)
        return _Field(last.name, m.group(1))
    raise ExpressionError(f"unsupported FHIRPath in {text!r}: {seg}")


def _with_type(steps: list[_Step], as_type: str, text: str) -> list[_Step]:
    last = steps[-1] if steps else None
    if not isinstance(last, _Field):
        raise ExpressionError(text)
    return [*steps[:-1], _Field(last.name, as_type)]


def _walk(nodes: list[Any], path: tuple[_Step, ...]) -> list[Any]:
    for step in path:
        nodes = list(_apply(nodes, step))
        if not nodes:
            break
    return nodes


def _apply(nodes: list[Any], step: _Step) -> Iterator[Any]:
    for node in nodes:
        if not isinstance(node, dict):
            continue
        if isinstance(step, _Field):
            for value in _field_values(node, step):
                if isinstance(value, list):
                    yield from value
                else:
                    yield value
        elif isinstance(step, _WhereEquals):
            if node.get(step.field) == step.value:
                yield node
        elif _reference_is(node, step.target_type):
            yield node


def _field_values(node: dict[str, Any], step: _Field) -> Iterator[Any]:
    if step.as_type is not None:
        key = step.name + step.as_type[0].upper() + step.as_type[1:]
        if key in node:
            yield node[key]
        return
    if step.name in node:
        yield node[step.name]
        return
    prefix = step.name
    for key, value in node.items():
        # A choice element: effective -> effectiveDateTime, effectivePeriod, ...
        if key.startswith(prefix) and len(key) > len(prefix) and key[len(prefix)].isupper():
            yield value


def reference_type(reference: str) -> str | None:
    """The resource type a literal reference points to, if it says."""
    parts = reference.split("?")[0].split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) >= 2 and parts[-2][:1].isupper() and parts[-2].isalpha():
        return parts[-2]
    return None


def _reference_is(node: dict[str, Any], target_type: str) -> bool:
    ref = node.get("reference")
    if isinstance(ref, str):
        return reference_type(ref) == target_type
    declared = node.get("type")
    # A logical reference (identifier only) says its type, or we cannot tell: keep it.
    return declared is None or declared == target_type
