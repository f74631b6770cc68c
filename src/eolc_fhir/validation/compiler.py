"""Compile StructureDefinition differentials into ElementRule trees (once, at load)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from eolc_fhir.validation.fhirpath import compile_invariant
from eolc_fhir.validation.rules import (
    MISSING,
    Binding,
    CompiledProfile,
    ElementRule,
    SliceKey,
    Slicing,
)
from eolc_fhir.validation.terminology import Terminology

__all__ = ["ProfileCompileError", "compile_profile", "APPLIES_WHEN_URL"]

APPLIES_WHEN_URL = "https://eolc.example.org/fhir/StructureDefinition/eolc-profile-applies-when"
_HL7_SD = "http://hl7.org/fhir/StructureDefinition/"

TypeResolver = Callable[[str], "str | None"]  # profile/SD url -> resource type


class ProfileCompileError(ValueError):
    """A profile we cannot compile: the server must not start with it."""


def compile_profile(
    sd: Mapping[str, Any],
    terminology: Terminology,
    resolve_type: TypeResolver,
    extensions: Mapping[str, Mapping[str, Any]],
) -> CompiledProfile:
    """Compile one StructureDefinition (a resource profile or an extension definition)."""
    type_name = sd["type"]
    root = ElementRule(path=type_name, label=type_name, name=type_name)
    for element in sd.get("differential", {}).get("element", []):
        rule = _locate(root, element["id"], sd["url"])
        _apply(rule, element, terminology, resolve_type)
    _attach_extensions(root, terminology, resolve_type, extensions, sd["url"])
    _compute_slice_keys(root, terminology, sd["url"])
    return CompiledProfile(
        url=sd["url"],
        name=sd.get("name", sd["url"]),
        type=type_name,
        root=root,
        applies_when=_applies_when(sd, terminology),
        resource=dict(sd),
    )


def _locate(root: ElementRule, element_id: str, url: str) -> ElementRule:
    segments = element_id.split(".")
    if segments[0] != root.path:
        raise ProfileCompileError(f"{url}: element {element_id} is not under {root.path}")
    rule = root
    for segment in segments[1:]:
        name, _, slice_name = segment.partition(":")
        choice = name.endswith("[x]")
        rule = rule.child(name.removesuffix("[x]"), choice)
        if slice_name:
            if choice:
                raise ProfileCompileError(f"{url}: type slices on {element_id} are not supported")
            rule = rule.slice(slice_name)
    return rule


def _apply(
    rule: ElementRule,
    element: Mapping[str, Any],
    terminology: Terminology,
    resolve_type: TypeResolver,
) -> None:
    if "min" in element:
        rule.min = int(element["min"])
    if "max" in element:
        rule.max = None if element["max"] == "*" else int(element["max"])
    rule.short = element.get("short", rule.short)
    for key, value in element.items():
        if key.startswith("fixed"):
            rule.fixed = value
        elif key.startswith("pattern"):
            rule.pattern = value
    if "type" in element:
        _apply_types(rule, element["type"], resolve_type)
    if "binding" in element and "valueSet" in element["binding"]:
        vs = element["binding"]["valueSet"]
        if not terminology.knows_value_set(vs):
            raise ProfileCompileError(f"{element['id']}: binding to unknown ValueSet {vs}")
        rule.binding = Binding(element["binding"]["strength"], vs)
    if "slicing" in element:
        slicing = element["slicing"]
        rule.slicing = Slicing(
            tuple((d["type"], d["path"]) for d in slicing.get("discriminator", [])),
            slicing.get("rules", "open"),
        )
    type_path = (
        "Extension" if rule.path.startswith("Extension") and "." not in rule.path else rule.path
    )
    for constraint in element.get("constraint", []):
        rule.invariants.append(compile_invariant(constraint, type_path))


def _apply_types(
    rule: ElementRule, types: list[Mapping[str, Any]], resolve_type: TypeResolver
) -> None:
    rule.types = tuple(t["code"] for t in types)
    targets: set[str] = set()
    for t in types:
        if t["code"] == "Extension" and t.get("profile"):
            rule.extension_profile = t["profile"][0]
        for target in t.get("targetProfile", []):
            resolved = resolve_type(target)
            if resolved is None:
                raise ProfileCompileError(f"{rule.label}: unknown targetProfile {target}")
            targets.add(resolved)
    if targets and "Resource" not in targets:
        rule.target_types = frozenset(targets)


def _attach_extensions(
    rule: ElementRule,
    terminology: Terminology,
    resolve_type: TypeResolver,
    extensions: Mapping[str, Mapping[str, Any]],
    url: str,
) -> None:
    """Merge each referenced extension definition into the slice that uses it."""
    for node in [*rule.children.values(), *rule.slices]:
        if node.extension_profile is not None:
            definition = extensions.get(node.extension_profile)
            if definition is None:
                raise ProfileCompileError(
                    f"{url}: {node.label} uses unknown extension {node.extension_profile}"
                )
            compiled = compile_profile(definition, terminology, resolve_type, extensions).root
            _relabel(compiled, "Extension", node.label)
            for name, child in compiled.children.items():
                node.children.setdefault(name, child)
            node.invariants.extend(compiled.invariants)
        _attach_extensions(node, terminology, resolve_type, extensions, url)


def _relabel(rule: ElementRule, old: str, new: str) -> None:
    """Messages about a merged extension name the slice that uses it, not "Extension"."""
    rule.label = new + rule.label[len(old) :] if rule.label.startswith(old) else rule.label
    for node in [*rule.children.values(), *rule.slices]:
        _relabel(node, old, new)


def _compute_slice_keys(rule: ElementRule, terminology: Terminology, url: str) -> None:
    for node in [*rule.children.values(), *rule.slices]:
        _compute_slice_keys(node, terminology, url)
    if rule.slicing is None:
        return
    for slice_rule in rule.slices:
        keys = [_slice_key(slice_rule, kind, path) for kind, path in rule.slicing.discriminators]
        if any(k is None for k in keys):
            raise ProfileCompileError(
                f"{url}: slice {slice_rule.label} has no value for a discriminator"
            )
        slice_rule.slice_keys = tuple(k for k in keys if k is not None)


def _slice_key(slice_rule: ElementRule, kind: str, path: str) -> SliceKey | None:
    if kind not in ("value", "pattern"):
        raise ProfileCompileError(f"{slice_rule.label}: discriminator type {kind} is not supported")
    steps: tuple[str, ...] = () if path == "$this" else tuple(path.split("."))
    if steps == ("url",) and slice_rule.extension_profile and "url" not in slice_rule.children:
        return SliceKey(steps, "fixed", slice_rule.extension_profile)
    target: ElementRule | None = slice_rule
    for step in steps:
        target = target.children.get(step) if target else None
    if target is None:
        return None
    if target.fixed is not MISSING:
        return SliceKey(steps, "fixed", target.fixed)
    if target.pattern is not MISSING:
        return SliceKey(steps, "pattern", target.pattern)
    if target.binding is not None and target.binding.strength == "required":
        return SliceKey(steps, "binding", target.binding.value_set)
    return None


def _applies_when(
    sd: Mapping[str, Any], terminology: Terminology
) -> tuple[tuple[tuple[str, ...], str], ...]:
    """Every applies-when condition of the profile (repeats mean all must hold)."""
    conditions = []
    for ext in sd.get("extension", []):
        if ext.get("url") != APPLIES_WHEN_URL:
            continue
        parts = {e["url"]: e for e in ext.get("extension", [])}
        path, vs = parts["path"]["valueString"], parts["valueSet"]["valueCanonical"]
        if not terminology.knows_value_set(vs):
            raise ProfileCompileError(f"{sd['url']}: applies-when uses unknown ValueSet {vs}")
        conditions.append((tuple(path.split(".")), vs))
    return tuple(conditions)


def base_type_of(url: str) -> str | None:
    """``http://hl7.org/fhir/StructureDefinition/Patient`` -> ``Patient``."""
    if url.startswith(_HL7_SD):
        return url[len(_HL7_SD) :]
    return None
