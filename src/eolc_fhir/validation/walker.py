"""Walk a resource against a compiled ElementRule tree and collect Issues."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from eolc_fhir.fhir.errors import Issue
from eolc_fhir.validation.matching import binding_codes, matches_pattern, reference_type
from eolc_fhir.validation.rules import MISSING, CompiledProfile, ElementRule
from eolc_fhir.validation.scope import Scope
from eolc_fhir.validation.slice_match import SUFFIX_TO_TYPE, slice_of
from eolc_fhir.validation.terminology import Terminology
from eolc_fhir.validation.values import bound_violation, fixed_equals

__all__ = ["check_profile", "Nested"]

_HL7_SD = "http://hl7.org/fhir/StructureDefinition/"


class Nested(Protocol):
    """Validates a resource found inside another against named profiles (type.profile,
    profile discriminators): ProfileSet is the one implementation."""

    def check_resource(
        self, resource: Mapping[str, Any], urls: Sequence[str], expr: str, scope: Scope
    ) -> list[Issue]: ...


@dataclass(slots=True)
class _Context:
    profile: CompiledProfile
    terminology: Terminology
    scope: Scope
    nested: Nested
    issues: list[Issue] = field(default_factory=list)

    def add(self, severity: str, code: str, message: str, expression: str) -> None:
        self.issues.append(
            Issue(severity, code, f"{message} (profile {self.profile.name})", (expression,))
        )

    def conforms(self, url: str, resource: Mapping[str, Any], expr: str) -> bool:
        found = self.nested.check_resource(resource, (url,), expr, self.scope.entry(resource))
        return not any(i.is_error for i in found)


def check_profile(
    profile: CompiledProfile,
    resource: Mapping[str, Any],
    terminology: Terminology,
    scope: Scope,
    nested: Nested,
    expr: str | None = None,
) -> list[Issue]:
    ctx = _Context(profile, terminology, scope, nested)
    _check_value(profile.root, resource, expr or profile.type, None, ctx)
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
                type_code = SUFFIX_TO_TYPE.get(suffix, suffix)
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
    if rule.has_values:
        _check_values(rule, value, expr, type_code, ctx)
    if rule.binding is not None:
        _check_binding(rule, value, expr, ctx)
    if rule.target_types is not None and isinstance(value, dict):
        _check_reference(rule, value, expr, ctx)
    if rule.type_profiles and isinstance(value, dict) and "resourceType" in value:
        _check_type_profiles(rule, value, expr, ctx)
    _check_invariants(rule, value, expr, ctx)
    if isinstance(value, dict):
        for child in rule.children.values():
            _check_element(child, value, expr, ctx)


def _check_values(
    rule: ElementRule, value: Any, expr: str, type_code: str | None, ctx: _Context
) -> None:
    """fixed (exact), pattern (at least), minValue / maxValue."""
    if rule.fixed is not MISSING and not (
        fixed_equals(value, rule.fixed) and _same_type(type_code, rule.fixed_type)
    ):
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
    for bound, is_min in ((rule.min_value, True), (rule.max_value, False)):
        if bound is None:
            continue
        why = bound_violation(value, bound, is_min)
        if why is not None and why.startswith("not compared"):
            ctx.add("warning", "not-supported", f"{rule.label}: {why}", expr)
        elif why is not None:
            word = "minimum" if is_min else "maximum"
            ctx.add(
                "error",
                "value",
                f"{rule.label} is {why} the {word} {_show(bound[1])}: {_show(value)}",
                expr,
            )


def _same_type(type_code: str | None, fixed_type: str | None) -> bool:
    """A choice element's value must have the type that fixed[x] names."""
    if type_code is None or not fixed_type:
        return True
    return SUFFIX_TO_TYPE.get(fixed_type, fixed_type) == type_code


def _check_invariants(rule: ElementRule, value: Any, expr: str, ctx: _Context) -> None:
    scope = ctx.scope
    for invariant in rule.invariants:
        try:
            holds = invariant.holds(value, scope.resource_node, scope.root_node)
        except Exception as exc:  # fhirpathpy raises bare Exceptions on odd data
            ctx.add("error", "invariant", f"{invariant.key}: could not be evaluated ({exc})", expr)
            continue
        if not holds:
            ctx.add(invariant.severity, "invariant", f"{invariant.key}: {invariant.human}", expr)


def _check_binding(rule: ElementRule, value: Any, expr: str, ctx: _Context) -> None:
    assert rule.binding is not None
    vs = rule.binding.value_set
    if not rule.binding.known:
        if rule.binding.strength in ("required", "extensible"):
            message = f"{rule.label}: binding not checked: ValueSet {vs} is not known here"
            ctx.add("warning", "not-supported", message, expr)
        return
    codes = binding_codes(value)
    if codes is None:  # not a coded value (e.g. a CodeableConcept with text only is handled below)
        return
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
    literal = value.get("reference")
    found = ctx.scope.resolver.resolve(literal) if isinstance(literal, str) else None
    target = found.get("resourceType") if found else reference_type(value, ctx.scope.resource)
    if target is not None and target not in rule.target_types:
        allowed = ", ".join(sorted(rule.target_types))
        ctx.add("error", "structure", f"{rule.label} must refer to {allowed}, not {target}", expr)
    elif found is not None:
        _check_target_profiles(rule, found, expr, ctx)


def _check_target_profiles(
    rule: ElementRule, found: Mapping[str, Any], expr: str, ctx: _Context
) -> None:
    """A reference resolved in hand (contained, Bundle entry) must meet one targetProfile."""
    kind = found.get("resourceType")
    if any(url == _HL7_SD + str(kind) for url in rule.target_profiles):
        return
    if any(ctx.conforms(url, found, expr) for url in rule.target_profiles):
        return
    names = ", ".join(rule.target_profiles)
    ctx.add("error", "structure", f"{rule.label} must refer to a resource meeting {names}", expr)


def _check_type_profiles(
    rule: ElementRule, value: Mapping[str, Any], expr: str, ctx: _Context
) -> None:
    """type.profile on a resource element: the resource must meet one of the profiles."""
    scope = ctx.scope.entry(value)
    results = [ctx.nested.check_resource(value, (url,), expr, scope) for url in rule.type_profiles]
    if any(not any(i.is_error for i in found) for found in results):
        return
    if len(results) > 1:
        names = ", ".join(rule.type_profiles)
        ctx.add("error", "structure", f"{rule.label} meets none of the profiles {names}", expr)
    ctx.issues.extend(results[0])


def _check_slices(
    rule: ElementRule, items: list[tuple[Any, str, str | None]], parent_expr: str, ctx: _Context
) -> None:
    assert rule.slicing is not None
    counts = dict.fromkeys(range(len(rule.slices)), 0)
    for value, expr, type_code in items:
        index = slice_of(rule, value, type_code, expr, ctx)
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


def _show(value: Any) -> str:
    if isinstance(value, dict) and "value" in value and ("code" in value or "unit" in value):
        return f"{value['value']} {value.get('code', value.get('unit'))}"  # a Quantity
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 120 else text[:117] + "..."
