"""The one import surface for FHIR R4 models (fhir.resources' R4B package).

A bare ``from fhir.resources.careplan import CarePlan`` silently gives R5;
everything in this project imports models from here instead. Only the R4
types among the R4B models count as resource types (``r4_types``).
"""

from __future__ import annotations

from collections.abc import Iterable

from fhir.resources.R4B import get_fhir_model_class
from fhir_core.fhirabstractmodel import FHIRAbstractModel

from eolc_fhir.fhir.r4_types import R4_RESOURCE_TYPES

__all__ = ["FHIRAbstractModel", "model_class", "resource_types", "is_resource_type",
           "not_r4_type", "preload"]


# Every resource type the R4B models define (Resource and DomainResource excluded), written
# out rather than found by importing each model: importing all 141 costs 2-4 s and about
# 90 MB in every process, where a server only ever touches a few dozen types.
# tests/unit/test_models.py checks this list against the installed models.
_MODEL_TYPES = frozenset({
    "Account", "ActivityDefinition", "AdministrableProductDefinition", "AdverseEvent",
    "AllergyIntolerance", "Appointment", "AppointmentResponse", "AuditEvent", "Basic", "Binary",
    "BiologicallyDerivedProduct", "BodyStructure", "Bundle", "CapabilityStatement", "CarePlan",
    "CareTeam", "CatalogEntry", "ChargeItem", "ChargeItemDefinition", "Citation", "Claim",
    "ClaimResponse", "ClinicalImpression", "ClinicalUseDefinition", "CodeSystem", "Communication",
    "CommunicationRequest", "CompartmentDefinition", "Composition", "ConceptMap", "Condition",
    "Consent", "Contract", "Coverage", "CoverageEligibilityRequest",
    "CoverageEligibilityResponse", "DetectedIssue", "Device", "DeviceDefinition", "DeviceMetric",
    "DeviceRequest", "DeviceUseStatement", "DiagnosticReport", "DocumentManifest",
    "DocumentReference", "Encounter", "Endpoint", "EnrollmentRequest", "EnrollmentResponse",
    "EpisodeOfCare", "EventDefinition", "Evidence", "EvidenceReport", "EvidenceVariable",
    "ExampleScenario", "ExplanationOfBenefit", "FamilyMemberHistory", "Flag", "Goal",
    "GraphDefinition", "Group", "GuidanceResponse", "HealthcareService", "ImagingStudy",
    "Immunization", "ImmunizationEvaluation", "ImmunizationRecommendation", "ImplementationGuide",
    "Ingredient", "InsurancePlan", "Invoice", "Library", "Linkage", "List", "Location",
    "ManufacturedItemDefinition", "Measure", "MeasureReport", "Media", "Medication",
    "MedicationAdministration", "MedicationDispense", "MedicationKnowledge", "MedicationRequest",
    "MedicationStatement", "MedicinalProductDefinition", "MessageDefinition", "MessageHeader",
    "MolecularSequence", "NamingSystem", "NutritionOrder", "NutritionProduct", "Observation",
    "ObservationDefinition", "OperationDefinition", "OperationOutcome", "Organization",
    "OrganizationAffiliation", "PackagedProductDefinition", "Parameters", "Patient",
    "PaymentNotice", "PaymentReconciliation", "Person", "PlanDefinition", "Practitioner",
    "PractitionerRole", "Procedure", "Provenance", "Questionnaire", "QuestionnaireResponse",
    "RegulatedAuthorization", "RelatedPerson", "RequestGroup", "ResearchDefinition",
    "ResearchElementDefinition", "ResearchStudy", "ResearchSubject", "RiskAssessment", "Schedule",
    "SearchParameter", "ServiceRequest", "Slot", "Specimen", "SpecimenDefinition",
    "StructureDefinition", "StructureMap", "Subscription", "SubscriptionStatus",
    "SubscriptionTopic", "Substance", "SubstanceDefinition", "SupplyDelivery", "SupplyRequest",
    "Task", "TerminologyCapabilities", "TestReport", "TestScript", "ValueSet",
    "VerificationResult", "VisionPrescription",
})


# R4B-only types (SubscriptionTopic, Citation, ...) are left out: an R4 server neither serves
# nor lists them.
_RESOURCE_TYPES = _MODEL_TYPES & R4_RESOURCE_TYPES


def resource_types() -> frozenset[str]:
    """Every R4 resource type the R4B models know (Patient, CarePlan, ...)."""
    return _RESOURCE_TYPES


def is_resource_type(name: str) -> bool:
    return name in _RESOURCE_TYPES


def not_r4_type(name: str) -> str:
    """The one message for a type this server does not serve."""
    return f"'{name}' is not an R4 resource type (FHIR 4.0.1) that this server serves"


def model_class(resource_type: str) -> type[FHIRAbstractModel]:
    """The R4B model class for a resource type; KeyError if it is not one."""
    if not is_resource_type(resource_type):
        raise KeyError(resource_type)
    return get_fhir_model_class(resource_type)


# Types every server touches whatever its profiles say: the documents, bundles, outcomes and
# records it writes itself.
_ALWAYS_USED = ("Patient", "Bundle", "OperationOutcome", "AuditEvent", "Provenance",
                "Subscription", "Parameters", "Composition", "CapabilityStatement")


def preload(resource_types_used: Iterable[str]) -> None:
    """Import the models of these types (and of the always-used ones) now, not in a request."""
    for name in (*_ALWAYS_USED, *resource_types_used):
        model_class(name)
