"""The compiled form of a profile: a tree of ElementRule nodes, one per constrained element."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eolc_fhir.validation.fhirpath import Invariant

__all__ = [
    "ProfileCompileError",
    "MISSING",
    "Binding",
    "ElementRule",
    "SliceKey",
    "Slicing",
    "CompiledProfile",
]


class ProfileCompileError(ValueError):
    """A profile we cannot compile: the server must not start with it."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True, slots=True)
class Binding:
    strength: str
    value_set: str
    known: bool = True  # False: the ValueSet is not held here, so the binding is not checked


@dataclass(frozen=True, slots=True)
class Slicing:
    discriminators: tuple[tuple[str, str], ...]  # (type, path)
    rules: str  # open | closed | openAtEnd


@dataclass(frozen=True, slots=True)
class SliceKey:
    """What an item must hold at ``path`` to belong to a slice."""

    path: tuple[str, ...]  # () for $this
    kind: str  # fixed | pattern | binding | type | profile | exists | any
    expected: Any
    resolve: bool = False  # the path ends in resolve(): look at the referenced resource


@dataclass(eq=False, slots=True)
class ElementRule:
    """Constraints on one element (or one slice of it), and on its children."""

    path: str  # base path without slice names: "Patient.identifier.value"
    label: str  # element id, with slice names, for messages
    name: str  # JSON key; "value" for value[x]
    choice: bool = False
    min: int = 0
    max: int | None = None  # None = not constrained here
    types: tuple[str, ...] = ()
    target_types: frozenset[str] | None = None
    fixed: Any = MISSING
    fixed_type: str | None = None  # the [x] suffix of fixed[x] ("String", "Coding")
    pattern: Any = MISSING
    min_value: tuple[str, Any] | None = None  # (type suffix, value) of minValue[x]
    max_value: tuple[str, Any] | None = None
    has_values: bool = False  # any of fixed, pattern, minValue, maxValue: the walker's shortcut
    type_profiles: tuple[str, ...] = ()  # type.profile: the value must meet one of them
    target_profiles: tuple[str, ...] = ()  # type.targetProfile urls, as written
    binding: Binding | None = None
    short: str | None = None
    invariants: list[Invariant] = field(default_factory=list)
    children: dict[str, ElementRule] = field(default_factory=dict)
    slicing: Slicing | None = None
    slices: list[ElementRule] = field(default_factory=list)
    slice_name: str | None = None
    slice_keys: tuple[SliceKey, ...] = ()
    extension_profile: str | None = None

    def child(self, name: str, choice: bool) -> ElementRule:
        rule = self.children.get(name)
        if rule is None:
            base = f"{self.path}.{name}"
            rule = ElementRule(
                path=base,
                label=f"{self.label}.{name}{'[x]' if choice else ''}",
                name=name,
                choice=choice,
            )
            self.children[name] = rule
        return rule

    def slice(self, slice_name: str) -> ElementRule:
        for rule in self.slices:
            if rule.slice_name == slice_name:
                return rule
        rule = ElementRule(
            path=self.path,
            label=f"{self.label}:{slice_name}",
            name=self.name,
            choice=self.choice,
            slice_name=slice_name,
        )
        self.slices.append(rule)
        return rule


@dataclass(eq=False, slots=True)
class CompiledProfile:
    url: str
    name: str
    type: str
    root: ElementRule
    # Conditions that must all hold for the profile to apply unclaimed: (path, value set url).
    applies_when: tuple[tuple[tuple[str, ...], str], ...] = ()
    resource: dict[str, Any] = field(default_factory=dict)
