"""Profile validation: profiles/ compiled once into checks; local terminology operations."""

from eolc_fhir.validation.compiler import ProfileCompileError
from eolc_fhir.validation.fhirpath import InvariantCompileError
from eolc_fhir.validation.profileset import DEFAULT_EXTERNAL_PROFILES, ProfileSet
from eolc_fhir.validation.terminology import Terminology

__all__ = [
    "ProfileSet",
    "Terminology",
    "ProfileCompileError",
    "InvariantCompileError",
    "DEFAULT_EXTERNAL_PROFILES",
]
