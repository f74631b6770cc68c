"""Compile StructureDefinition differentials into ElementRule trees (once, at load)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from eolc_fhir.validation.element_ids import element_ids
from eolc_fhir.validation.fhirpath import InvariantCompileError, compile_invariant
from eolc_fhir.validation.rules import (
    Binding,
    CompiledProfile,
    ElementRule,
    ProfileCompileError,
    Slicing,
)
from eolc_fhir.validation.slice_keys import compute_slice_keys, type_of_choice_slice
from eolc_fhir.validation.terminology import Terminology

__all__ = ["ProfileCompileError", "compile_profile", "APPLIES_WHEN_URL"]

APPLIES_WHEN_URL = "https://eolc.example.org/fhir/StructureDefinition/eolc-profile-applies-when"
_HL7_SD = "http://hl7.org/fhir/StructureDefinition/"
_TYPE_SLICING = Slicing((("type", "$this"),), "open")

TypeResolver = Callable[[str], "str | None"]  # profile/SD url -> resource type


def compile_profile(
    sd: Mapping[str, Any],
    terminology: Terminology,
    resolve_type: TypeResolver,
    extensions: Mapping[str, Mapping[str, Any]],
) -> CompiledProfile:
    """Compile one StructureDefinition (a resource profile or an extension definition)."""
    url = sd.get("url") or "(a StructureDefinition without url)"
    type_name = sd.get("type")
    if not isinstance(type_name, str):
        raise ProfileCompileError(f"{url}: no type")
    root = ElementRule(path=type_name, label=type_name, name=type_name)
    elements = sd.get("differential", {}).get("element", [])
    for element_id, element in zip(element_ids(elements, url), elements, strict=True):
        try:
            rule = _locate(root, element_id, url)
            _apply(rule, element, terminology, resolve_type)
        except InvariantCompileError as exc:
            raise InvariantCompileError(f"{url}: element {element_id}: {exc}") from exc
        except ProfileCompileError:
            raise
        except (KeyError, TypeError, ValueError) as exc:  # malformed element content
            raise ProfileCompileError(
                f"{url}: element {element_id}: bad content ({exc!r})"
            ) from exc
    _attach_extensions(root, terminology, resolve_type, extensions, url)
    compute_slice_keys(root, url)
    return CompiledProfile(
        url=url,
        name=sd.get("name", url),
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
        parent = rule.child(name.removesuffix("[x]"), choice)
        rule = parent
        if slice_name:
            rule = parent.slice(slice_name.split("/", 1)[0])
            if choice:  # a type slice of a choice element (value[x]:valueQuantity)
                parent.slicing = parent.slicing or _TYPE_SLICING
                rule.types = rule.types or type_of_choice_slice(parent.name, rule.slice_name)
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
    _apply_values(rule, element)
    if "type" in element:
        _apply_types(rule, element["type"], resolve_type)
    if "binding" in element and "valueSet" in element["binding"]:
        vs = element["binding"]["valueSet"]
        strength = element["binding"]["strength"]
        rule.binding = Binding(strength, vs, terminology.knows_value_set(vs))
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


def _apply_values(rule: ElementRule, element: Mapping[str, Any]) -> None:
    """fixed[x], pattern[x], minValue[x] and maxValue[x], with the type each names."""
    for key, value in element.items():
        if key.startswith(("fixed", "pattern", "minValue", "maxValue")):
            rule.has_values = True
        if key.startswith("fixed"):
            rule.fixed, rule.fixed_type = value, key[len("fixed") :]
        elif key.startswith("pattern"):
            rule.pattern = value
        elif key.startswith("minValue"):
            rule.min_value = (key[len("minValue") :], value)
        elif key.startswith("maxValue"):
            rule.max_value = (key[len("maxValue") :], value)


def _apply_types(
    rule: ElementRule, types: list[Mapping[str, Any]], resolve_type: TypeResolver
) -> None:
    rule.types = tuple(t["code"] for t in types)
    targets: set[str] = set()
    target_profiles: list[str] = []
    profiles: list[str] = []
    for t in types:
        if t["code"] == "Extension" and t.get("profile"):
            rule.extension_profile = t["profile"][0]
        elif t.get("profile"):
            profiles.extend(p.split("|", 1)[0] for p in t["profile"])
        for target in t.get("targetProfile", []):
            resolved = resolve_type(target)
            if resolved is None:
                raise ProfileCompileError(f"{rule.label}: unknown targetProfile {target}")
            targets.add(resolved)
            target_profiles.append(target.split("|", 1)[0])
    rule.type_profiles = tuple(profiles)
    rule.target_profiles = tuple(target_profiles)
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
