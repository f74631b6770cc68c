"""Which slice an item belongs to: its values, type or profile at each discriminator path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from eolc_fhir.validation.matching import binding_codes, matches_pattern, reference_type
from eolc_fhir.validation.rules import ElementRule, SliceKey
from eolc_fhir.validation.scope import Scope
from eolc_fhir.validation.slice_keys import extension_step
from eolc_fhir.validation.terminology import Terminology
from eolc_fhir.validation.values import fixed_equals

__all__ = ["SUFFIX_TO_TYPE", "slice_of"]

_PRIMITIVES = (
    "base64Binary boolean canonical code date dateTime decimal id instant integer markdown "
    "oid positiveInt string time unsignedInt uri url uuid"
).split()
SUFFIX_TO_TYPE = {t[0].upper() + t[1:]: t for t in _PRIMITIVES}


class MatchContext(Protocol):
    terminology: Terminology
    scope: Scope

    def conforms(self, url: str, resource: Mapping[str, Any], expr: str) -> bool: ...


def slice_of(
    rule: ElementRule, value: Any, type_code: str | None, expr: str, ctx: MatchContext
) -> int | None:
    for index, slice_rule in enumerate(rule.slices):
        if all(_key_matches(key, value, type_code, expr, ctx) for key in slice_rule.slice_keys):
            return index
    return None


def _typed_values(
    value: Any, path: tuple[str, ...], type_code: str | None
) -> list[tuple[Any, str | None]]:
    """Values at ``path`` with their type where JSON tells it: a choice key's suffix, a
    resource's resourceType. The last step may name a choice element (``value``)."""
    if not path:
        return [(value, type_code or _resource_type(value))]
    current = [value]
    for step in path[:-1]:
        current = _step(current, step)
    last = path[-1]
    if "(" in last:  # extension('url') as the last step
        return [(v, None) for v in _step(current, last)]
    found: list[tuple[Any, str | None]] = []
    for item in current:
        if not isinstance(item, dict):
            continue
        if last in item:  # the common case, without looking at every key for a choice
            direct = item[last]
            found.extend((one, _resource_type(one)) for one in _listed(direct))
            continue
        for key, v in item.items():  # a choice element: valueQuantity for "value"
            if key.startswith(last) and len(key) > len(last) and key[len(last)].isupper():
                suffix = key[len(last) :]
                found.append((v, SUFFIX_TO_TYPE.get(suffix, suffix)))
    return found


def _step(current: list[Any], step: str) -> list[Any]:
    """One step down: an element name, or ``extension('url')`` (the extensions with that url)."""
    url = None
    if "(" in step:
        step, url = extension_step(step)
    return [
        v
        for item in current
        if isinstance(item, dict) and step in item
        for v in _listed(item[step])
        if url is None or (isinstance(v, dict) and v.get("url") == url)
    ]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resource_type(value: Any) -> str | None:
    kind = value.get("resourceType") if isinstance(value, dict) else None
    return kind if isinstance(kind, str) else None


def _resolved(
    found: list[tuple[Any, str | None]], ctx: MatchContext
) -> list[tuple[Any, str | None]]:
    """Follow each Reference (resolve()): the resource, or at least the type it names."""
    out: list[tuple[Any, str | None]] = []
    for ref, _ in found:
        if not isinstance(ref, dict | str):
            continue
        literal = ref if isinstance(ref, str) else ref.get("reference")
        target = ctx.scope.resolver.resolve(literal) if isinstance(literal, str) else None
        if target is not None:
            out.append((target, _resource_type(target)))
        else:
            as_ref = {"reference": ref} if isinstance(ref, str) else ref
            out.append((None, reference_type(as_ref, ctx.scope.resource)))
    return out


def _key_matches(
    key: SliceKey, value: Any, type_code: str | None, expr: str, ctx: MatchContext
) -> bool:
    if key.kind == "any":
        return True
    found = _typed_values(value, key.path, type_code)
    if key.resolve:
        found = _resolved(found, ctx)
    if key.kind == "exists":
        return bool(found) is key.expected
    if key.kind == "type":
        return any(kind in key.expected for _, kind in found)
    if key.kind == "profile":
        return any(_conforms(v, key.expected, expr, ctx) for v, _ in found)
    values = [v for v, _ in found]
    if key.kind == "fixed":
        return any(fixed_equals(v, key.expected) for v in values)
    if key.kind == "pattern":
        return any(matches_pattern(v, key.expected) for v in values)
    for v in values:
        codes = binding_codes(v)
        if codes and any(ctx.terminology.contains(key.expected, s, c) for s, c in codes):
            return True
    return False


def _conforms(value: Any, urls: tuple[str, ...], expr: str, ctx: MatchContext) -> bool:
    if not isinstance(value, dict):
        return False
    if "resourceType" in value:
        return any(ctx.conforms(url, value, expr) for url in urls)
    return value.get("url") in urls  # an extension "conforms" to the definition it names
