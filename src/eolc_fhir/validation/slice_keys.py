"""What an item must hold to belong to a slice: one SliceKey per discriminator, at load."""

from __future__ import annotations

import re

from eolc_fhir.validation.rules import MISSING, ElementRule, ProfileCompileError, SliceKey

__all__ = [
    "compute_slice_keys",
    "discriminator_steps",
    "extension_step",
    "type_of_choice_slice",
]

_KINDS = frozenset({"value", "pattern", "exists", "type", "profile"})
_RESOLVE = "resolve()"
_STEPS = re.compile(r"(?:[^.(]|\([^)]*\))+")  # dots inside extension('...') do not split
_EXTENSION = re.compile(r"(extension|modifierExtension)\('([^']*)'\)")


def type_of_choice_slice(name: str, slice_name: str | None) -> tuple[str, ...]:
    """``value`` + ``valueQuantity`` -> ("Quantity",); ``valueString`` -> ("string",)."""
    if not slice_name or not slice_name.startswith(name) or len(slice_name) == len(name):
        return ()
    suffix = slice_name[len(name) :]
    lower = suffix[0].lower() + suffix[1:]
    return (lower if lower in _PRIMITIVE_NAMES else suffix,)


_PRIMITIVE_NAMES = frozenset(
    "base64Binary boolean canonical code date dateTime decimal id instant integer markdown "
    "oid positiveInt string time unsignedInt uri url uuid".split()
)


def discriminator_steps(path: str, url: str) -> tuple[tuple[str, ...], bool]:
    """A discriminator path as JSON steps, and whether it ends in ``resolve()``."""
    # "value[x]" is not FHIRPath but is met in the wild for "value"
    steps = [] if path == "$this" else [s.removesuffix("[x]") for s in _STEPS.findall(path)]
    resolve = bool(steps) and steps[-1] == _RESOLVE
    if resolve:
        steps.pop()
    for step in steps:
        if not step.replace("_", "").isalnum() and not _EXTENSION.fullmatch(step):
            raise ProfileCompileError(f"{url}: discriminator path {path!r} is not supported")
    return tuple(steps), resolve


def extension_step(step: str) -> tuple[str, str]:
    """``extension('http://x')`` -> ("extension", "http://x")."""
    match = _EXTENSION.fullmatch(step)
    if match is None:
        raise ValueError(step)
    return match.group(1), match.group(2)


def compute_slice_keys(rule: ElementRule, url: str) -> None:
    for node in [*rule.children.values(), *rule.slices]:
        compute_slice_keys(node, url)
    if rule.slicing is None:
        return
    for slice_rule in rule.slices:
        slice_rule.slice_keys = tuple(
            _slice_key(slice_rule, kind, path, url) for kind, path in rule.slicing.discriminators
        )


def _target(slice_rule: ElementRule, steps: tuple[str, ...]) -> ElementRule | None:
    target: ElementRule | None = slice_rule
    for step in steps:
        if target is None:
            return None
        if "(" in step:  # the slice of the extension with that url
            name, ext_url = extension_step(step)
            sliced = target.children.get(name)
            slices = sliced.slices if sliced else []
            target = next((s for s in slices if s.extension_profile == ext_url), None)
        else:
            target = target.children.get(step)
    return target


def _slice_key(slice_rule: ElementRule, kind: str, path: str, url: str) -> SliceKey:
    """The slice's key for one discriminator; kind "any" where the slice leaves it open
    (the discriminator then does not tell this slice from others)."""
    if kind not in _KINDS:
        raise ProfileCompileError(
            f"{url}: {slice_rule.label}: discriminator type {kind} is not supported"
        )
    steps, resolve = discriminator_steps(path, url)
    if steps == ("url",) and slice_rule.extension_profile and "url" not in slice_rule.children:
        return SliceKey(steps, "fixed", slice_rule.extension_profile)
    target = _target(slice_rule, steps)
    if target is None:
        return SliceKey(steps, "any", None, resolve)
    if kind == "exists":
        if target.min >= 1 or target.max == 0:
            return SliceKey(steps, "exists", target.min >= 1, resolve)
    elif kind == "type":
        types = target.target_types if resolve and target.target_types else target.types
        if types:
            return SliceKey(steps, "type", frozenset(types), resolve)
    elif kind == "profile":
        profiles = target.target_profiles if resolve else target.type_profiles
        if profiles:
            return SliceKey(steps, "profile", tuple(profiles), resolve)
    else:
        return _value_key(target, steps, resolve)
    return SliceKey(steps, "any", None, resolve)


def _value_key(target: ElementRule, steps: tuple[str, ...], resolve: bool) -> SliceKey:
    if target.fixed is not MISSING:
        return SliceKey(steps, "fixed", target.fixed, resolve)
    if target.pattern is not MISSING:
        return SliceKey(steps, "pattern", target.pattern, resolve)
    if target.binding is not None and target.binding.strength == "required":
        if target.binding.known:
            return SliceKey(steps, "binding", target.binding.value_set, resolve)
    return SliceKey(steps, "any", None, resolve)
