"""The written-out model type list agrees with the installed R4B models; R4 types only."""

from __future__ import annotations

import subprocess
import sys

from fhir.resources.R4B import fhirtypes, get_fhir_model_class
from fhir.resources.R4B.resource import Resource

from eolc_fhir.fhir.models import _MODEL_TYPES, model_class, resource_types
from eolc_fhir.fhir.r4_types import R4_RESOURCE_TYPES


def _types_the_models_define() -> set[str]:
    names = set()
    for attr in dir(fhirtypes):
        if not attr.endswith("Type"):
            continue
        try:
            cls = get_fhir_model_class(attr[:-4])
        except (ValueError, AttributeError):
            continue
        if isinstance(cls, type) and issubclass(cls, Resource):
            names.add(attr[:-4])
    return names - {"Resource", "DomainResource"}


def test_the_list_names_exactly_the_resource_models() -> None:
    assert set(_MODEL_TYPES) == _types_the_models_define()
    assert resource_types() == _MODEL_TYPES & R4_RESOURCE_TYPES
    assert "SubscriptionTopic" not in resource_types() and "Patient" in resource_types()


def test_every_listed_type_has_a_model() -> None:
    for name in resource_types():
        assert model_class(name).__name__ == name


def test_asking_for_the_types_imports_no_model() -> None:
    # A fresh interpreter: this process has imported every model already.
    code = ("import sys; from eolc_fhir.fhir.models import is_resource_type; "
            "assert is_resource_type('Patient') and not is_resource_type('Patients'); "
            "print(sum(m.startswith('fhir.resources.R4B.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert int(out) < 10, out
