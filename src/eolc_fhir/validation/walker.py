"""Walk a resource against a compiled ElementRule tree and collect Issues."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from eolc_fhir.fhir.errors import Issue
from eolc_fhir.validation.matching import binding_codes, matches_pattern, reference_type, values_at
from eolc_fhir.validation.rules import MISSING, CompiledProfile, ElementRule, SliceKey
from eolc_fhir.validation.terminology import Terminology

__all__ = ["check_profile"]

_PRIMITIVES = frozenset(
    {
        "base64Binary",
        "boolean",
        "canonical",
        "code",
        "date",
        "dateTime",
        "decimal",
        "id",
        "instant",
        "integer",
        "markdown",
        "oid",
        "positiveInt",
        "string",
        "time",
        "unsignedInt",
        "uri",
        "url",
        "uuid",
    }
)
_SUFFIX_TO_TYPE = {t[0].upper() + t[1:]: t for t in _PRIMITIVES}


@dataclass(slots=True)
class _Context:
    profile: CompiledProfile
    terminology: Terminology
    root: Mapping[str, Any]
    issues: list[Issue] = field(default_factory=list)

    def add(self, severity: str, code: str, message: str, expression: str) -> None:
        self.issues.append(
            Issue(severity, code, f"{message} (profile {self.profile.name})", (expression,))
        )


def check_profile(
    profile: CompiledProfile, resource: Mapping[str, Any], terminology: Terminology
) -> list[Issue]:
    ctx = _Context(profile, terminology, resource)
    _check_value(profile.root, resource, profile.type, None, ctx)
    return ctx.issues


def _items(
    rule: ElementRule, parent: Mapping[str, Any], parent_expr: str
) -> Iterator[tuple[Any, str, str | None]]:
    """(value, FHIRPath expression, type code for choice elements) for each occurrence."""
    if rule.choice:
        size = len(rule.name)
        for key, value in parent.items():
            if key.startswith(rule.name) and len(key) > size and key[size].isupper():
                suffix = key[size:]
                type_code = _SUFFIX_TO_TYPE.get(suffix, suffix)
                yield value, f"{parent_expr}.{rule.name}.ofType({type_code})", type_code
        return
    value = parent.get(rule.name)
    if value is None:
        if ("_" + rule.name) in parent:  # a primitive carried only by its extensions
            yield None, f"{parent_expr}.{rule.name}", None
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield item, f"{parent_expr}.{rule.name}[{index}]", None
    else:
        yield value, f"{parent_expr}.{rule.name}", None


def _check_element(
    rule: ElementRule, parent: Mapping[str, Any], parent_expr: str, ctx: _Context
) -> None:
    items = list(_items(rule, parent, parent_expr))
    where = f"{parent_expr}.{rule.name}"
    _check_count(rule, len(items), where, ctx, what=rule.label)
    for value, expr, type_code in items:
        if value is not None:
            _check_value(rule, value, expr, type_code, ctx)
    if rule.slicing is not None:
        _check_slices(rule, items, parent_expr, ctx)


def _check_count(rule: ElementRule, count: int, where: str, ctx: _Context, what: str) -> None:
    about = f"{what} ({rule.short})" if rule.short else what
    if count < rule.min:
        ctx.add(
            "error", "required", f"{about} is required: at least {rule.min}, found {count}", where
        )
    if rule.max is not None and count > rule.max:
        if rule.max == 0:
            ctx.add("error", "structure", f"{about} is not allowed here, found {count}", where)
        else:
            ctx.add(
                "error", "structure", f"{about} allows at most {rule.max}, found {count}", where
            )


def _check_value(
    rule: ElementRule, value: Any, expr: str, type_code: str | None, ctx: _Context
) -> None:
    if type_code is not None and rule.types and type_code not in rule.types:
        allowed = ", ".join(rule.types)
        ctx.add(
            "error",
            "structure",
            f"{rule.label} of type {type_code} is not allowed; allowed: {allowed}",
            expr,
        )
        return
    if rule.fixed is not MISSING and value != rule.fixed:
        ctx.add(
            "error",
            "value",
            f"{rule.label} must be exactly {_show(rule.fixed)}, found {_show(value)}",
            expr,
        )
    if rule.pattern is not MISSING and not matches_pattern(value, rule.pattern):
        ctx.add(
            "error",
            "value",
            f"{rule.label} must match {_show(rule.pattern)}, found {_show(value)}",
            expr,
        )
    if rule.binding is not None:
        _check_binding(rule, value, expr, ctx)
    if rule.target_types is not None and isinstance(value, dict):
        _check_reference(rule, value, expr, ctx)
    for invariant in rule.invariants:
        try:
            holds = invariant.holds(value, ctx.root)
        except Exception as exc:  # fhirpathpy raises bare Exceptions on odd data
            ctx.add("error", "invariant", f"{invariant.key}: could not be evaluated ({exc})", expr)
            continue
        if not holds:
            ctx.add(invariant.severity, "invariant", f"{invariant.key}: {invariant.human}", expr)
    if isinstance(value, dict):
        for child in rule.children.values():
            _check_element(child, value, expr, ctx)


def _check_binding(rule: ElementRule, value: Any, expr: str, ctx: _Context) -> None:
    assert rule.binding is not None
    codes = binding_codes(value)
    if codes is None:  # not a coded value (e.g. a CodeableConcept with text only is handled below)
        return
    vs = rule.binding.value_set
    if any(ctx.terminology.contains(vs, system, code) for system, code in codes):
        return
    shown = ", ".join(f"{s}|{c}" if s else str(c) for s, c in codes) or "no code"
    message = f"{rule.label}: {shown} is not in the value set {vs}"
    if rule.binding.strength == "required":
        ctx.add("error", "code-invalid", message, expr)
    elif rule.binding.strength in ("extensible", "preferred"):
        ctx.add("warning", "code-invalid", message, expr)


def _check_reference(rule: ElementRule, value: Mapping[str, Any], expr: str, ctx: _Context) -> None:
    assert rule.target_types is not None
    target = reference_type(value, ctx.root)
    if target is not None and target not in rule.target_types:
        allowed = ", ".join(sorted(rule.target_types))
        ctx.add("error", "structure", f"{rule.label} must refer to {allowed}, not {target}", expr)


def _check_slices(
    rule: ElementRule, items: list[tuple[Any, str, str | None]], parent_expr: str, ctx: _Context
) -> None:
    assert rule.slicing is not None
    counts = dict.fromkeys(range(len(rule.slices)), 0)
    for value, expr, type_code in items:
        index = _slice_of(rule, value, ctx.terminology)
        if index is None:
            if rule.slicing.rules == "closed":
                ctx.add(
                    "error",
                    "structure",
                    f"{rule.label}: this item matches none of the allowed slices",
                    expr,
                )
            continue
        counts[index] += 1
        _check_value(rule.slices[index], value, expr, type_code, ctx)
    for index, slice_rule in enumerate(rule.slices):
        where = f"{parent_expr}.{rule.name}"
        url = next((k.expected for k in slice_rule.slice_keys if k.path == ("url",)), None)
        if rule.name in ("extension", "modifierExtension") and isinstance(url, str):
            where = f"{parent_expr}.{rule.name}('{url}')"
        _check_count(
            slice_rule,
            counts[index],
            where,
            ctx,
            what=f"{rule.label} slice '{slice_rule.slice_name}'",
        )


def _slice_of(rule: ElementRule, value: Any, terminology: Terminology) -> int | None:
    for index, slice_rule in enumerate(rule.slices):
        if all(_key_matches(key, value, terminology) for key in slice_rule.slice_keys):
            return index
    return None


def _key_matches(key: SliceKey, value: Any, terminology: Terminology) -> bool:
    found = values_at(value, key.path)
    if key.kind == "fixed":
        return any(v == key.expected for v in found)
    if key.kind == "pattern":
        return any(matches_pattern(v, key.expected) for v in found)
    for v in found:
        codes = binding_codes(v)
        if codes and any(terminology.contains(key.expected, s, c) for s, c in codes):
            return True
    return False


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 120 else text[:117] + "..."
