"""The one import surface for FHIR R4 models (fhir.resources' R4B package).

A bare ``from fhir.resources.careplan import CarePlan`` silently gives R5;
everything in this project imports models from here instead.
"""

from __future__ import annotations

from functools import lru_cache

from fhir.resources.R4B import fhirtypes, get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from fhir_core.fhirabstractmodel import FHIRAbstractModel

__all__ = ["FHIRAbstractModel", "model_class", "resource_types", "is_resource_type"]


@lru_cache(maxsize=1)
def resource_types() -> frozenset[str]:
    """Every resource type name the R4B models know (Patient, CarePlan, ...)."""
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
            isinstance(cls, type)
            and issubclass(cls, Resource)
            and name not in {"Resource", "DomainResource"}
        ):
            names.add(name)
    return frozenset(names)


def is_resource_type(name: str) -> bool:
    return name in resource_types()


def model_class(resource_type: str) -> type[FHIRAbstractModel]:
    """The R4B model class for a resource type; KeyError if it is not one."""
    if not is_resource_type(resource_type):
        raise KeyError(resource_type)
    return get_fhir_model_class(resource_type)
