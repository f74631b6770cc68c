"""Where a resource being validated sits: its %resource, %rootResource and reference resolver."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eolc_fhir.validation.fhirpath import resource_node
from eolc_fhir.validation.references import Resolver

__all__ = ["Scope"]


class Scope:
    """%resource (the resource the checked elements are in), %rootResource (its container,
    or itself) and how its references resolve. The typed FHIRPath nodes are made only when
    an invariant needs them."""

    __slots__ = ("resource", "resolver", "_node", "_root")

    def __init__(
        self, resource: Mapping[str, Any], resolver: Resolver, root: Scope | None = None
    ) -> None:
        self.resource = resource
        self.resolver = resolver
        self._node: Any = None
        self._root = root

    @property
    def resource_node(self) -> Any:
        if self._node is None:
            self._node = resource_node(self.resource)
        return self._node

    @property
    def root_node(self) -> Any:
        return self._root.resource_node if self._root is not None else self.resource_node

    @classmethod
    def top(cls, resource: Mapping[str, Any], bundle: Resolver | None = None) -> Scope:
        """A resource on its own, or an entry of a Bundle (``bundle``: the Bundle's resolver)."""
        return cls(resource, Resolver.of(resource, bundle))

    def contained(self, resource: Mapping[str, Any]) -> Scope:
        """A contained resource: %rootResource stays the container; #id references resolve
        among the container's contained resources."""
        return Scope(resource, self.resolver, self)

    def entry(self, resource: Mapping[str, Any]) -> Scope:
        """A resource carried by this one (Bundle.entry.resource, Parameters.parameter.resource):
        a resource of its own; references also resolve among the Bundle's entries."""
        bundle = self.resolver if self.resolver.in_bundle else None
        return Scope.top(resource, bundle)
