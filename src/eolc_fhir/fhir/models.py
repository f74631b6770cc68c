"""The one import surface for FHIR R4 models (fhir.resources' R4B package).

A bare ``from fhir.resources.careplan import CarePlan`` silently gives R5;
everything in this project imports models from here instead. Only the R4
types among the R4B models count as resource types (``r4_types``).
"""

from __future__ import annotations

from functools import lru_cache

from fhir.resources.R4B import fhirtypes, get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from fhir_core.fhirabstractmodel import FHIRAbstractModel

from eolc_fhir.fhir.r4_types import R4_RESOURCE_TYPES

__all__ = ["FHIRAbstractModel", "model_class", "resource_types", "is_resource_type",
           "not_r4_type"]


@lru_cache(maxsize=1)
def resource_types() -> frozenset[str]:
    """Every R4 resource type the R4B models know (Patient, CarePlan, ...).

    R4B-only types (SubscriptionTopic, Citation, ...) are left out: they are
    neither served nor listed by an R4 server.
    """
    names = set()
    for attr in dir(fhirtypes):
        if not attr.endswith("Type"):
            continue
        name = attr[:-4]
        try:
            cls = get_fhir_model_class(name)
        except (ValueError, AttributeError):
            continue
        if (
            name in R4_RESOURCE_TYPES
            and isinstance(cls, type)
            and issubclass(cls, Resource)
            and name not in {"Resource", "DomainResource"}
        ):
            names.add(name)
    return frozenset(names)


def is_resource_type(name: str) -> bool:
    return name in resource_types()


def not_r4_type(name: str) -> str:
    """The one message for a type this server does not serve."""
    return f"'{name}' is not an R4 resource type (FHIR 4.0.1) that this server serves"


def model_class(resource_type: str) -> type[FHIRAbstractModel]:
    """The R4B model class for a resource type; KeyError if it is not one."""
    if not is_resource_type(resource_type):
        raise KeyError(resource_type)
    return get_fhir_model_class(resource_type)
