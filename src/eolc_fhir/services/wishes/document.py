"""Patient/$wishes: what a crew at the door must see first, as one FHIR document Bundle.

The answer is a ``document`` Bundle: a Composition (status final, type
eolc-concepts#end-of-life-emergency-summary, subject, date, author = this
service as a Device, title naming the person), then every resource its
sections reference, then the Device and one DetectedIssue per warning.

Sections, in order of urgency (docs/clinical-content.md). Each section.code carries our own
code (``…/CodeSystem/eolc-wishes-section``, unique per section, for machines)
and the UK Core record heading that fits it best
(``https://fhir.hl7.org.uk/CodeSystem/UKCore-RecordStandardHeadings``):

    warnings                (none: no heading for alerts in the documented set)
    cpr-decision            plan-and-requested-actions
    respect                 plan-and-requested-actions
    adrt                    advance-decision-to-refuse-treatment
    lpa                     lasting-power-of-attorney-for-health-and-welfare-or-
                            court-appointed-deputy-or-equivalent (one code)
    preferred-places        patient-and-carer-concerns-expectations-and-wishes
    anticipatory-medicines  current-supportive-care-for-terminal-illness
    contacts                professional-contacts
    register                current-supportive-care-for-terminal-illness
    what-matters            patient-and-carer-concerns-expectations-and-wishes
    consent                 consent-for-information-sharing

Every section has a short plain narrative; an empty one says so and carries
``emptyReason`` nilknown. Warnings, machine-readable: the first section's
entries are DetectedIssue resources (in the Bundle, not stored) whose
``code`` is from ``…/CodeSystem/eolc-wishes-warning`` (deceased, always
first, cpr-review-overdue, cpr-conflict, no-first-choice-place-of-death,
consent-withdrawn, several-patients-match, acp-review-overdue), with
``severity`` and ``implicated`` pointing at the resources concerned. A person
who has died (death.py) still gets a document, its title starting
"DECEASED", since crews and coordinators must know. No match for the NHS
number is a 404 OperationOutcome; a number failing modulus 11 is a 400.

Several Patient records with one NHS number: the document's subject is the
most recently updated record, the sections cover the resources of ALL the
matching records (a DNACPR on a duplicate record must not be hidden), and
the several-patients-match warning names every record.

ETag: a hash of (type, id, version) of every resource read plus today's date
(warnings such as "past its review date" change with the day) and the
document format version; ``If-None-Match`` with it answers 304 without
building the document. The documents asked for most recently are kept
(``DocumentCache``, bounded in bytes): while nothing at all was committed
since one was checked (``Database.fenced_change_token``: migration 0002's
change signals, which ignore AuditEvents, and on PostgreSQL migration 0004's
sequence, read once per request so that a write another process answered is
never missed) it is served without reading the record;
otherwise the record is read again and the kept document is served only if
its ETag is unchanged. Documents that withdrawn consent makes differ by
caller are never kept.

Cost: one SQL statement finds the patient(s) by NHS number, their
resources and their contacts (GP practice, episode organisation and key
worker) through the token and reference indexes; stored bytes
are decoded with orjson only, never parsed into the R4B models.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from eolc_fhir.fhir.errors import InvalidRequest, NotFound
from eolc_fhir.fhir.nhs_number import NHS_NUMBER_SYSTEM, is_valid_nhs_number
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.wishes.cache import DocumentCache, KeptDocument, Key, WishesAnswer, etags
from eolc_fhir.services.wishes.compose import compose
from eolc_fhir.services.wishes.death import MOOT_AFTER_DEATH, Death, death_of, death_warning
from eolc_fhir.services.wishes.parts import BASE, Found, Warning, ref
from eolc_fhir.services.wishes.sections import build_sections, current_episode
from eolc_fhir.services.wishes.visibility import check_practice, viewer, visible_rows
from eolc_fhir.storage.model import Row

__all__ = ["WishesAnswer", "wishes_by_identifier", "wishes_for_patient", "parse_nhs_identifier",
           "FORMAT_VERSION", "WISHES_TYPES", "DOCUMENT_TYPES", "install", "OPERATIONS",
           "DocumentCache", "document_cache"]

FORMAT_VERSION = "1"
# The types a section may show; anything else in the compartment is not read.
WISHES_TYPES = ("Flag", "CarePlan", "Observation", "Consent", "RelatedPerson",
                "DocumentReference", "EpisodeOfCare", "CareTeam", "MedicationRequest",
                "MedicationStatement")
# Every type a document may hold: the sections' types, the people and organisations its
# contacts name, and what the document itself is made of. A caller must be able to read
# all of them to be given one (services/operations.py).
DOCUMENT_TYPES = ("Composition", "Patient", *WISHES_TYPES, "Organization", "Practitioner",
                  "PractitionerRole", "Device", "DetectedIssue")



def parse_nhs_identifier(identifier: str | None) -> str:
    """``https://fhir.nhs.uk/Id/nhs-number|<n>`` (or a bare number) -> the checked number."""
    if not identifier:
        raise InvalidRequest("$wishes needs identifier=https://fhir.nhs.uk/Id/nhs-number|<n>",
                             code="required", expression="identifier")
    system, bar, value = identifier.rpartition("|")
    if bar and system != NHS_NUMBER_SYSTEM:
        raise InvalidRequest(f"$wishes looks people up by NHS number ({NHS_NUMBER_SYSTEM}) only",
                             code="not-supported", expression="identifier")
    value = value.replace(" ", "")
    if not is_valid_nhs_number(value):
        raise InvalidRequest("not a valid NHS number: it must be 10 digits with a correct "
                             "modulus-11 check digit", code="value", expression="identifier")
    return value


async def wishes_by_identifier(ctx: ServerContext, identifier: str | None, *, base_url: str,
                               if_none_match: str | None = None) -> WishesAnswer:
    number = parse_nhs_identifier(identifier)

    async def fetch() -> list[Row]:
        return await ctx.db.compartment.fetch(WISHES_TYPES, identifier=(NHS_NUMBER_SYSTEM, number),
                                       contacts=True)

    return await _wishes(ctx, ("nhs-number", number, base_url), fetch, if_none_match,
                         "no patient with this NHS number is known to this service")


async def wishes_for_patient(ctx: ServerContext, patient_id: str, *, base_url: str,
                             if_none_match: str | None = None) -> WishesAnswer:
    async def fetch() -> list[Row]:
        return await ctx.db.compartment.fetch(WISHES_TYPES, patient_ids=[patient_id],
                                              contacts=True)

    return await _wishes(ctx, ("id", patient_id, base_url), fetch, if_none_match,
                         f"Patient/{patient_id} is not known")


async def _wishes(ctx: ServerContext, key: Key, fetch: Callable[[], Awaitable[list[Row]]],
                  if_none_match: str | None, not_found: str) -> WishesAnswer:
    cache = document_cache(ctx)
    # Before reading: a write in between makes it stale. Fenced: a write another process
    # has answered is seen even before its notification arrives here.
    token = await ctx.db.fenced_change_token()
    today = datetime.now(UTC).date().isoformat()
    kept = cache.get_for(key, viewer())
    if kept is not None and token is not None and kept.token == token and kept.day == today:
        await check_practice(ctx, kept.ids, not_found)
        return kept.answer(if_none_match)  # nothing committed anywhere since it was checked
    rows = await fetch()
    people = [r.id for r in rows if r.resource_type == "Patient"]
    if not people:
        raise NotFound(not_found)
    await check_practice(ctx, people, not_found)
    return await _answer(ctx, key, rows, if_none_match, token, today, kept)


async def _answer(ctx: ServerContext, key: Key, rows: list[Row], if_none_match: str | None,
                  token: tuple[int, ...] | None, today: str,
                  kept: KeptDocument | None) -> WishesAnswer:
    rows, view = await visible_rows(ctx, rows)  # withdrawn consent: before any narrative
    decoded = [(row, orjson.loads(row.content)) for row in rows]
    patients = sorted((d for r, d in decoded if r.resource_type == "Patient"),
                      key=lambda p: str((p.get("meta") or {}).get("lastUpdated", "")),
                      reverse=True)
    found = Found(today, {}, {})
    for row, resource in decoded:
        if row.resource_type != "Patient":
            found.by_type.setdefault(row.resource_type, []).append(resource)
        found.others[(row.resource_type, row.id)] = resource
    missing = _contact_keys(found, patients)  # e.g. a care team with no subject
    extra = await ctx.db.compartment.get_many(missing) if missing else []
    for row in extra:
        found.others[(row.resource_type, row.id)] = orjson.loads(row.content)
    etag = _etag([*rows, *extra], today)
    ids = [p["id"] for p in patients]
    read = [f"{r.resource_type}/{r.id}/_history/{r.version}" for r in (*rows, *extra)]
    if kept is not None and kept.etag == etag and kept.view == view:
        kept.token = token  # same versions, same day: the same document, checked again
        return kept.answer(if_none_match)
    if if_none_match is not None and etag in etags(if_none_match):
        return WishesAnswer(304, etag, ids, resources=read)
    sections, warnings = build_sections(found, patients)
    death = _first_warnings(found, patients, warnings)
    body = compose(key[2], patients, found, sections, warnings, rows, extra,
                   died=death.summary() if death else None)
    codes = [w.code for w in warnings]
    # A withdrawn person's document is kept per view (admin, or each organisation).
    document_cache(ctx).put_for(key, KeptDocument(token, today, etag, body, tuple(codes), ids,
                                                  read, view))
    return WishesAnswer(200, etag, ids, body, codes, read)


def _first_warnings(found: Found, patients: list[dict[str, Any]],
                    warnings: list[Warning]) -> Death | None:
    """Put in front what must be read first: several records, and before all a death."""
    if len(patients) > 1:
        warnings.insert(0, Warning("several-patients-match", f"{len(patients)} Patient records "
                                   "carry this NHS number; all are shown",
                                   [ref(p) for p in patients]))
    death = death_of(found, patients)
    if death is not None:
        warnings[:] = [w for w in warnings if w.code not in MOOT_AFTER_DEATH]
        warnings.insert(0, death_warning(death))
    return death


def document_cache(ctx: ServerContext) -> DocumentCache:
    """The process's document cache, made on first use and kept in ctx.wishes_cache."""
    cache = ctx.wishes_cache
    if not isinstance(cache, DocumentCache):
        cache = ctx.wishes_cache = DocumentCache(ctx.settings.wishes_cache_mb * 1024 * 1024)
    return cache


def _contact_keys(found: Found, patients: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Resources the contacts section needs that are not in the person's compartment."""
    wanted: list[Any] = [gp for p in patients for gp in p.get("generalPractitioner") or []]
    episode = current_episode(found)
    if episode is not None:
        wanted += [episode.get("managingOrganization"), episode.get("careManager"),
                   *(episode.get("team") or [])]
    keys = []
    for reference in wanted:
        rtype, _, rid = str((reference or {}).get("reference", "")).partition("/")
        if rid and "/" not in rid and (rtype, rid) not in found.others:
            keys.append((rtype, rid))
    return list(dict.fromkeys(keys))


def _etag(rows: Sequence[Row], today: str) -> str:
    digest = hashlib.sha256(f"{FORMAT_VERSION}|{today}".encode())
    for key in sorted(f"{r.resource_type}/{r.id}/{r.version}" for r in rows):
        digest.update(key.encode() + b"\n")
    return f'W/"{digest.hexdigest()[:24]}"'


OPERATIONS = (("wishes", f"{BASE}/OperationDefinition/Patient-wishes"),
              ("everything", f"{BASE}/OperationDefinition/Patient-everything"))


def _capability(resource_type: str, entry: dict[str, Any]) -> None:
    if resource_type == "Patient":
        entry.setdefault("operation", []).extend(
            {"name": name, "definition": url} for name, url in OPERATIONS)


def install(ctx: ServerContext) -> None:
    """Declare $wishes and $everything in the CapabilityStatement (called at start-up)."""
    contributors = ctx.hooks.capability_contributors
    if _capability not in contributors:
        contributors.append(_capability)
