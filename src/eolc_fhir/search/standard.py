# ruff: noqa: E501  (a data table: one parameter per line reads best)
"""The standard FHIR R4 (4.0.1) search parameters we serve, as data.

One line per parameter: ``Base code type expression [-> Target,Target]``.
Expressions are the R4 FHIRPath expressions (the subset ``expression.py``
reads); composite and special parameters are left out. ``Resource`` lines
apply to every resource type.
"""

from __future__ import annotations

__all__ = ["STANDARD_PARAMS", "STANDARD_URL"]

STANDARD_URL = "http://hl7.org/fhir/SearchParameter/"

_PRACTITIONERISH = "Practitioner,Organization,Device,Patient,PractitionerRole,RelatedPerson"

STANDARD_PARAMS = f"""
Resource _id token Resource.id
Resource _lastUpdated date Resource.meta.lastUpdated
Resource _tag token Resource.meta.tag
Resource _profile uri Resource.meta.profile
Resource _security token Resource.meta.security
Resource _source uri Resource.meta.source

Patient active token Patient.active
Patient address string Patient.address
Patient address-city string Patient.address.city
Patient address-country string Patient.address.country
Patient address-postalcode string Patient.address.postalCode
Patient address-state string Patient.address.state
Patient address-use token Patient.address.use
Patient birthdate date Patient.birthDate
Patient death-date date (Patient.deceased as dateTime)
Patient deceased token Patient.deceased.exists() and Patient.deceased != false
Patient email token Patient.telecom.where(system='email')
Patient family string Patient.name.family
Patient gender token Patient.gender
Patient general-practitioner reference Patient.generalPractitioner -> Organization,Practitioner,PractitionerRole
Patient given string Patient.name.given
Patient identifier token Patient.identifier
Patient language token Patient.communication.language
Patient link reference Patient.link.other -> Patient,RelatedPerson
Patient name string Patient.name
Patient organization reference Patient.managingOrganization -> Organization
Patient phone token Patient.telecom.where(system='phone')
Patient telecom token Patient.telecom

Basic author reference Basic.author -> Practitioner,Patient,PractitionerRole,RelatedPerson,Organization
Basic code token Basic.code
Basic created date Basic.created
Basic identifier token Basic.identifier
Basic patient reference Basic.subject.where(resolve() is Patient) -> Patient
Basic subject reference Basic.subject -> Any

Practitioner active token Practitioner.active
Practitioner address string Practitioner.address
Practitioner address-city string Practitioner.address.city
Practitioner address-country string Practitioner.address.country
Practitioner address-postalcode string Practitioner.address.postalCode
Practitioner address-state string Practitioner.address.state
Practitioner address-use token Practitioner.address.use
Practitioner communication token Practitioner.communication
Practitioner email token Practitioner.telecom.where(system='email')
Practitioner family string Practitioner.name.family
Practitioner gender token Practitioner.gender
Practitioner given string Practitioner.name.given
Practitioner identifier token Practitioner.identifier
Practitioner name string Practitioner.name
Practitioner phone token Practitioner.telecom.where(system='phone')
Practitioner telecom token Practitioner.telecom

PractitionerRole active token PractitionerRole.active
PractitionerRole date date PractitionerRole.period
PractitionerRole email token PractitionerRole.telecom.where(system='email')
PractitionerRole endpoint reference PractitionerRole.endpoint -> Endpoint
PractitionerRole identifier token PractitionerRole.identifier
PractitionerRole location reference PractitionerRole.location -> Location
PractitionerRole organization reference PractitionerRole.organization -> Organization
PractitionerRole phone token PractitionerRole.telecom.where(system='phone')
PractitionerRole practitioner reference PractitionerRole.practitioner -> Practitioner
PractitionerRole role token PractitionerRole.code
PractitionerRole service reference PractitionerRole.healthcareService -> HealthcareService
PractitionerRole specialty token PractitionerRole.specialty
PractitionerRole telecom token PractitionerRole.telecom

Organization active token Organization.active
Organization address string Organization.address
Organization address-city string Organization.address.city
Organization address-country string Organization.address.country
Organization address-postalcode string Organization.address.postalCode
Organization address-state string Organization.address.state
Organization address-use token Organization.address.use
Organization endpoint reference Organization.endpoint -> Endpoint
Organization identifier token Organization.identifier
Organization name string Organization.name | Organization.alias
Organization partof reference Organization.partOf -> Organization
Organization type token Organization.type

RelatedPerson active token RelatedPerson.active
RelatedPerson address string RelatedPerson.address
RelatedPerson address-city string RelatedPerson.address.city
RelatedPerson address-country string RelatedPerson.address.country
RelatedPerson address-postalcode string RelatedPerson.address.postalCode
RelatedPerson address-state string RelatedPerson.address.state
RelatedPerson address-use token RelatedPerson.address.use
RelatedPerson birthdate date RelatedPerson.birthDate
RelatedPerson email token RelatedPerson.telecom.where(system='email')
RelatedPerson gender token RelatedPerson.gender
RelatedPerson identifier token RelatedPerson.identifier
RelatedPerson name string RelatedPerson.name
RelatedPerson patient reference RelatedPerson.patient -> Patient
RelatedPerson phone token RelatedPerson.telecom.where(system='phone')
RelatedPerson relationship token RelatedPerson.relationship
RelatedPerson telecom token RelatedPerson.telecom

CarePlan activity-code token CarePlan.activity.detail.code
CarePlan activity-date date CarePlan.activity.detail.scheduled
CarePlan activity-reference reference CarePlan.activity.reference -> Appointment,CommunicationRequest,DeviceRequest,MedicationRequest,NutritionOrder,Task,ServiceRequest,VisionPrescription,RequestGroup
CarePlan based-on reference CarePlan.basedOn -> CarePlan
CarePlan care-team reference CarePlan.careTeam -> CareTeam
CarePlan category token CarePlan.category
CarePlan condition reference CarePlan.addresses -> Condition
CarePlan date date CarePlan.period
CarePlan encounter reference CarePlan.encounter -> Encounter
CarePlan goal reference CarePlan.goal -> Goal
CarePlan identifier token CarePlan.identifier
CarePlan instantiates-canonical reference CarePlan.instantiatesCanonical -> PlanDefinition,Questionnaire,Measure,ActivityDefinition,OperationDefinition
CarePlan instantiates-uri uri CarePlan.instantiatesUri
CarePlan intent token CarePlan.intent
CarePlan part-of reference CarePlan.partOf -> CarePlan
CarePlan patient reference CarePlan.subject.where(resolve() is Patient) -> Patient
CarePlan performer reference CarePlan.activity.detail.performer -> Practitioner,Organization,CareTeam,Patient,PractitionerRole,RelatedPerson,HealthcareService,Device
CarePlan replaces reference CarePlan.replaces -> CarePlan
CarePlan status token CarePlan.status
CarePlan subject reference CarePlan.subject -> Group,Patient

CareTeam category token CareTeam.category
CareTeam date date CareTeam.period
CareTeam encounter reference CareTeam.encounter -> Encounter
CareTeam identifier token CareTeam.identifier
CareTeam participant reference CareTeam.participant.member -> Practitioner,Organization,CareTeam,Patient,PractitionerRole,RelatedPerson
CareTeam patient reference CareTeam.subject.where(resolve() is Patient) -> Patient
CareTeam status token CareTeam.status
CareTeam subject reference CareTeam.subject -> Group,Patient

Flag author reference Flag.author -> Device,Organization,Practitioner,Patient,PractitionerRole
Flag date date Flag.period
Flag encounter reference Flag.encounter -> Encounter
Flag identifier token Flag.identifier
Flag patient reference Flag.subject.where(resolve() is Patient) -> Patient
Flag subject reference Flag.subject -> Practitioner,Location,Group,Organization,Patient,PlanDefinition,Medication,Procedure

EpisodeOfCare care-manager reference EpisodeOfCare.careManager -> Practitioner
EpisodeOfCare condition reference EpisodeOfCare.diagnosis.condition -> Condition
EpisodeOfCare date date EpisodeOfCare.period
EpisodeOfCare identifier token EpisodeOfCare.identifier
EpisodeOfCare incoming-referral reference EpisodeOfCare.referralRequest -> ServiceRequest
EpisodeOfCare organization reference EpisodeOfCare.managingOrganization -> Organization
EpisodeOfCare patient reference EpisodeOfCare.patient -> Patient
EpisodeOfCare status token EpisodeOfCare.status
EpisodeOfCare type token EpisodeOfCare.type

Consent action token Consent.provision.action
Consent actor reference Consent.provision.actor.reference -> Device,Group,CareTeam,Organization,Patient,Practitioner,RelatedPerson,PractitionerRole
Consent category token Consent.category
Consent consentor reference Consent.performer -> Organization,Patient,Practitioner,RelatedPerson,PractitionerRole
Consent data reference Consent.provision.data.reference -> Any
Consent date date Consent.dateTime
Consent identifier token Consent.identifier
Consent organization reference Consent.organization -> Organization
Consent patient reference Consent.patient -> Patient
Consent period date Consent.provision.period
Consent purpose token Consent.provision.purpose
Consent scope token Consent.scope
Consent security-label token Consent.provision.securityLabel
Consent source-reference reference Consent.source -> Consent,DocumentReference,Contract,QuestionnaireResponse
Consent status token Consent.status

List code token List.code
List date date List.date
List identifier token List.identifier
List item reference List.entry.item
List patient reference List.subject.where(resolve() is Patient) -> Patient
List status token List.status
List subject reference List.subject
List title string List.title

Observation based-on reference Observation.basedOn -> CarePlan,MedicationRequest,NutritionOrder,DeviceRequest,ServiceRequest,ImmunizationRecommendation
Observation category token Observation.category
Observation code token Observation.code
Observation component-code token Observation.component.code
Observation component-data-absent-reason token Observation.component.dataAbsentReason
Observation component-value-concept token (Observation.component.value as CodeableConcept)
Observation component-value-quantity quantity (Observation.component.value as Quantity)
Observation data-absent-reason token Observation.dataAbsentReason
Observation date date Observation.effective
Observation derived-from reference Observation.derivedFrom -> Media,Observation,ImagingStudy,MolecularSequence,QuestionnaireResponse,DocumentReference
Observation device reference Observation.device -> Device,DeviceMetric
Observation encounter reference Observation.encounter -> Encounter
Observation focus reference Observation.focus -> Any
Observation has-member reference Observation.hasMember -> Observation,QuestionnaireResponse,MolecularSequence
Observation identifier token Observation.identifier
Observation method token Observation.method
Observation part-of reference Observation.partOf -> MedicationAdministration,MedicationDispense,MedicationStatement,Procedure,Immunization,ImagingStudy
Observation patient reference Observation.subject.where(resolve() is Patient) -> Patient
Observation performer reference Observation.performer -> Practitioner,Organization,CareTeam,Patient,PractitionerRole,RelatedPerson
Observation specimen reference Observation.specimen -> Specimen
Observation status token Observation.status
Observation subject reference Observation.subject -> Group,Device,Patient,Location
Observation value-concept token (Observation.value as CodeableConcept)
Observation value-date date (Observation.value as dateTime) | (Observation.value as Period)
Observation value-quantity quantity (Observation.value as Quantity)
Observation value-string string (Observation.value as string)

Condition abatement-age quantity Condition.abatement.as(Age) | Condition.abatement.as(Range)
Condition abatement-date date Condition.abatement.as(dateTime) | Condition.abatement.as(Period)
Condition abatement-string string Condition.abatement.as(string)
Condition asserter reference Condition.asserter -> Practitioner,Patient,PractitionerRole,RelatedPerson
Condition body-site token Condition.bodySite
Condition category token Condition.category
Condition clinical-status token Condition.clinicalStatus
Condition code token Condition.code
Condition encounter reference Condition.encounter -> Encounter
Condition evidence token Condition.evidence.code
Condition evidence-detail reference Condition.evidence.detail -> Any
Condition identifier token Condition.identifier
Condition onset-age quantity Condition.onset.as(Age) | Condition.onset.as(Range)
Condition onset-date date Condition.onset.as(dateTime) | Condition.onset.as(Period)
Condition onset-info string Condition.onset.as(string)
Condition patient reference Condition.subject.where(resolve() is Patient) -> Patient
Condition recorded-date date Condition.recordedDate
Condition severity token Condition.severity
Condition stage token Condition.stage.summary
Condition subject reference Condition.subject -> Group,Patient
Condition verification-status token Condition.verificationStatus

Goal achievement-status token Goal.achievementStatus
Goal category token Goal.category
Goal identifier token Goal.identifier
Goal lifecycle-status token Goal.lifecycleStatus
Goal patient reference Goal.subject.where(resolve() is Patient) -> Patient
Goal start-date date (Goal.start as date)
Goal subject reference Goal.subject -> Group,Organization,Patient
Goal target-date date (Goal.target.due as date)

DocumentReference authenticator reference DocumentReference.authenticator -> Practitioner,Organization,PractitionerRole
DocumentReference author reference DocumentReference.author -> {_PRACTITIONERISH}
DocumentReference category token DocumentReference.category
DocumentReference contenttype token DocumentReference.content.attachment.contentType
DocumentReference custodian reference DocumentReference.custodian -> Organization
DocumentReference date date DocumentReference.date
DocumentReference description string DocumentReference.description
DocumentReference encounter reference DocumentReference.context.encounter -> Encounter,EpisodeOfCare
DocumentReference event token DocumentReference.context.event
DocumentReference facility token DocumentReference.context.facilityType
DocumentReference format token DocumentReference.content.format
DocumentReference identifier token DocumentReference.masterIdentifier | DocumentReference.identifier
DocumentReference language token DocumentReference.content.attachment.language
DocumentReference location uri DocumentReference.content.attachment.url
DocumentReference patient reference DocumentReference.subject.where(resolve() is Patient) -> Patient
DocumentReference period date DocumentReference.context.period
DocumentReference related reference DocumentReference.context.related -> Any
DocumentReference relatesto reference DocumentReference.relatesTo.target -> DocumentReference
DocumentReference relation token DocumentReference.relatesTo.code
DocumentReference security-label token DocumentReference.securityLabel
DocumentReference setting token DocumentReference.context.practiceSetting
DocumentReference status token DocumentReference.status
DocumentReference subject reference DocumentReference.subject -> Practitioner,Group,Organization,Device,Patient,PractitionerRole
DocumentReference type token DocumentReference.type

Encounter account reference Encounter.account -> Account
Encounter appointment reference Encounter.appointment -> Appointment
Encounter based-on reference Encounter.basedOn -> ServiceRequest
Encounter class token Encounter.class
Encounter date date Encounter.period
Encounter diagnosis reference Encounter.diagnosis.condition -> Condition,Procedure
Encounter episode-of-care reference Encounter.episodeOfCare -> EpisodeOfCare
Encounter identifier token Encounter.identifier
Encounter length quantity Encounter.length
Encounter location reference Encounter.location.location -> Location
Encounter location-period date Encounter.location.period
Encounter part-of reference Encounter.partOf -> Encounter
Encounter participant reference Encounter.participant.individual -> Practitioner,PractitionerRole,RelatedPerson
Encounter participant-type token Encounter.participant.type
Encounter patient reference Encounter.subject.where(resolve() is Patient) -> Patient
Encounter practitioner reference Encounter.participant.individual.where(resolve() is Practitioner) -> Practitioner
Encounter reason-code token Encounter.reasonCode
Encounter reason-reference reference Encounter.reasonReference -> Condition,Procedure,Observation,ImmunizationRecommendation
Encounter service-provider reference Encounter.serviceProvider -> Organization
Encounter special-arrangement token Encounter.hospitalization.specialArrangement
Encounter status token Encounter.status
Encounter subject reference Encounter.subject -> Group,Patient
Encounter type token Encounter.type

QuestionnaireResponse author reference QuestionnaireResponse.author -> {_PRACTITIONERISH}
QuestionnaireResponse authored date QuestionnaireResponse.authored
QuestionnaireResponse based-on reference QuestionnaireResponse.basedOn -> CarePlan,ServiceRequest
QuestionnaireResponse encounter reference QuestionnaireResponse.encounter -> Encounter
QuestionnaireResponse identifier token QuestionnaireResponse.identifier
QuestionnaireResponse part-of reference QuestionnaireResponse.partOf -> Observation,Procedure
QuestionnaireResponse patient reference QuestionnaireResponse.subject.where(resolve() is Patient) -> Patient
QuestionnaireResponse questionnaire reference QuestionnaireResponse.questionnaire -> Questionnaire
QuestionnaireResponse source reference QuestionnaireResponse.source -> Practitioner,Patient,PractitionerRole,RelatedPerson
QuestionnaireResponse status token QuestionnaireResponse.status
QuestionnaireResponse subject reference QuestionnaireResponse.subject -> Any

Provenance agent reference Provenance.agent.who -> {_PRACTITIONERISH}
Provenance agent-role token Provenance.agent.role
Provenance agent-type token Provenance.agent.type
Provenance entity reference Provenance.entity.what -> Any
Provenance location reference Provenance.location -> Location
Provenance patient reference Provenance.target.where(resolve() is Patient) -> Patient
Provenance recorded date Provenance.recorded
Provenance signature-type token Provenance.signature.type
Provenance target reference Provenance.target -> Any
Provenance when date (Provenance.occurred as dateTime)

AuditEvent action token AuditEvent.action
AuditEvent address string AuditEvent.agent.network.address
AuditEvent agent reference AuditEvent.agent.who -> {_PRACTITIONERISH}
AuditEvent agent-name string AuditEvent.agent.name
AuditEvent agent-role token AuditEvent.agent.role
AuditEvent altid token AuditEvent.agent.altId
AuditEvent date date AuditEvent.recorded
AuditEvent entity reference AuditEvent.entity.what -> Any
AuditEvent entity-name string AuditEvent.entity.name
AuditEvent entity-role token AuditEvent.entity.role
AuditEvent entity-type token AuditEvent.entity.type
AuditEvent outcome token AuditEvent.outcome
AuditEvent patient reference AuditEvent.agent.who.where(resolve() is Patient) | AuditEvent.entity.what.where(resolve() is Patient) -> Patient
AuditEvent policy uri AuditEvent.agent.policy
AuditEvent site token AuditEvent.source.site
AuditEvent source reference AuditEvent.source.observer -> {_PRACTITIONERISH}
AuditEvent subtype token AuditEvent.subtype
AuditEvent type token AuditEvent.type

Subscription contact token Subscription.contact
Subscription criteria string Subscription.criteria
Subscription payload token Subscription.channel.payload
Subscription status token Subscription.status
Subscription type token Subscription.channel.type
Subscription url uri Subscription.channel.endpoint

StructureDefinition url uri StructureDefinition.url
StructureDefinition name string StructureDefinition.name
StructureDefinition version token StructureDefinition.version
StructureDefinition status token StructureDefinition.status
StructureDefinition title string StructureDefinition.title
ValueSet url uri ValueSet.url
ValueSet name string ValueSet.name
ValueSet version token ValueSet.version
ValueSet status token ValueSet.status
ValueSet title string ValueSet.title
CodeSystem url uri CodeSystem.url
CodeSystem name string CodeSystem.name
CodeSystem version token CodeSystem.version
CodeSystem status token CodeSystem.status
CodeSystem title string CodeSystem.title
SearchParameter url uri SearchParameter.url
SearchParameter name string SearchParameter.name
SearchParameter version token SearchParameter.version
SearchParameter status token SearchParameter.status
SearchParameter title string SearchParameter.title
OperationDefinition url uri OperationDefinition.url
OperationDefinition name string OperationDefinition.name
OperationDefinition version token OperationDefinition.version
OperationDefinition status token OperationDefinition.status
OperationDefinition title string OperationDefinition.title
StructureDefinition type token StructureDefinition.type
StructureDefinition base uri StructureDefinition.baseDefinition
StructureDefinition derivation token StructureDefinition.derivation
ValueSet reference uri ValueSet.compose.include.system
CodeSystem system uri CodeSystem.url
SearchParameter code token SearchParameter.code
SearchParameter base token SearchParameter.base
SearchParameter type token SearchParameter.type
OperationDefinition code token OperationDefinition.code
Measure url uri Measure.url
Measure name string Measure.name
Measure version token Measure.version
Measure status token Measure.status
Measure title string Measure.title
Measure date date Measure.date
Measure identifier token Measure.identifier
MeasureReport date date MeasureReport.date
MeasureReport identifier token MeasureReport.identifier
MeasureReport period date MeasureReport.period
MeasureReport status token MeasureReport.status
MeasureReport patient reference MeasureReport.subject.where(resolve() is Patient) -> Patient
MeasureReport subject reference MeasureReport.subject -> Patient,Practitioner,PractitionerRole,Location,Device,RelatedPerson,Group
"""
