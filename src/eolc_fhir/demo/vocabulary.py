"""The synthetic region's vocabulary: code systems, names, places and the codes people get."""

from __future__ import annotations

__all__ = ["BASE", "SCT", "CONCEPTS", "PLACE_TYPE", "CONSENT_SCOPE", "VERIFICATION_EXT",
           "VERIFICATION_CS", "GIVEN_F", "GIVEN_M", "FAMILY", "STREETS", "REGISTER", "PROGNOSIS",
           "PLACES", "NO_CHOICE", "EPISODE_TYPES", "WHAT_MATTERS", "REFUSED", "MEDICINES",
           "ACT_CODE", "ACT_PRIORITY", "DEATH_PLACES"]

BASE = "https://eolc.example.org/fhir"
SCT = "http://snomed.info/sct"
CONCEPTS = f"{BASE}/CodeSystem/eolc-concepts"
PLACE_TYPE = f"{BASE}/CodeSystem/eolc-place-type"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
VERIFICATION_EXT = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus")
VERIFICATION_CS = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"

GIVEN_F = ["Margaret", "Joan", "Patricia", "Doreen", "Ayesha", "Irene", "Mary", "Sylvia",
            "Gwen", "Nkechi", "Beryl", "Hannah", "Rita", "Lakshmi", "Eileen", "Maureen"]
GIVEN_M = ["Arthur", "Harold", "Derek", "Kenneth", "Tariq", "George", "Brian", "Raymond",
            "Desmond", "Wojciech", "Colin", "Ifeanyi", "Trevor", "Gurpreet", "Alan", "Peter"]
FAMILY = ["Hughes", "Smith", "Jones", "Khan", "Taylor", "Brown", "Evans", "Walker", "Wright",
           "Robinson", "Thompson", "White", "Edwards", "Green", "Hall", "Wood", "Clarke",
           "Mensah", "Kaur", "Nowak", "Byrne", "Adeyemi", "Fletcher", "Moss"]
STREETS = ["Mill Lane", "Church Road", "Orchard Close", "Station Road", "Park View",
            "The Green", "Willow Way", "Castle Street", "Meadow Rise", "Queens Road"]
REGISTER = [("526631000000108", "On end of life care register"),
             ("1403151000000103", "On palliative care register"),
             ("414937009", "On gold standards palliative care framework")]
PROGNOSIS = [("511401000000102", "Last days of life"), ("955231000000109", "Last weeks of life"),
              ("968211000000101", "Last months of life"),
              ("767503006", "Limited life expectancy of approximately one year")]
PLACES = [("21", "Patient's own home"), ("30", "Hospice"), ("10", "Hospital"),
           ("41", "Care home with nursing"), ("42", "Care home without nursing"),
           ("22", "Other private residence")]
# Where people die (death location type), hospital first: eolc-place-type with "other".
DEATH_PLACES = {code: display for code, display in
                [("10", "Hospital"), *PLACES, ("50", "Other")]}
NO_CHOICE = [("517161000000101", "Preferred place of death undecided"),
              ("766391000000108", "Preferred place of death discussion declined"),
              ("517111000000103", "Unable to express preference for place of death")]
EPISODE_TYPES = [("310073009", "Palliative care service"),
                  ("395092004", "Specialist palliative care"),
                  ("395086005", "Community specialist palliative care"),
                  ("444933003", "Home hospice service")]
WHAT_MATTERS = [
    "Being at home with my family and my dog.", "Staying comfortable and free of pain.",
    "Not going back into hospital if it can be avoided.",
    "Having my daughter with me at the end.", "Hearing my music and seeing the garden.",
    "Being able to pray with my faith leader.", "Keeping my independence as long as I can.",
]
REFUSED = ["Cardiopulmonary resuscitation", "Artificial ventilation", "Artificial nutrition",
            "Intravenous antibiotics"]
MEDICINES = ["Morphine sulfate 10 mg/ml injection", "Midazolam 10 mg/2 ml injection",
              "Levomepromazine 25 mg/ml injection", "Hyoscine butylbromide 20 mg/ml injection"]
