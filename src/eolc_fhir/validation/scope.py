"""Where a resource being validated sits: its %resource, %rootResource and reference resolver."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eolc_fhir.validation.fhirpath import resource_node
from eolc_fhir.validation.references import Resolver

__all__ = ["Scope"]


@dataclass(frozen=True, slots=True)
class Scope:
    resource: Mapping[str, Any]  # %resource: the resource the checked elements are in
    resolver: Resolver
    resource_node: Any  # typed FHIRPath nodes of %resource and %rootResource
    root_node: Any

    @classmethod
    def top(cls, resource: Mapping[str, Any], bundle: Resolver | None = None) -> Scope:
        """A resource on its own, or an entry of a Bundle (``bundle``: the Bundle's resolver)."""
        node = resource_node(resource)
        return cls(resource, Resolver.of(resource, bundle), node, node)

    def contained(self, resource: Mapping[str, Any]) -> Scope:
        """A contained resource: %rootResource stays the container; #id references resolve
        among the container's contained resources."""
        return Scope(resource, self.resolver, resource_node(resource), self.root_node)

    def entry(self, resource: Mapping[str, Any]) -> Scope:
        """A resource carried by this one (Bundle.entry.resource, Parameters.parameter.resource):
        a resource of its own; references also resolve among the Bundle's entries."""
        bundle = self.resolver if self.resolver.in_bundle else None
        return Scope.top(resource, bundle)
