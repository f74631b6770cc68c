"""Whether the person of a $wishes document has died, when and where (pure, no I/O).

A death is recorded on the Patient (``deceasedBoolean`` true or a
``deceasedDateTime``) or by an actual place of death (EolcPlaceOfDeath), by
whichever system learnt of it first; either is enough. The time is the
Patient's ``deceasedDateTime``, else the place of death's ``effectiveDateTime``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eolc_fhir.services.wishes.parts import Found, Warning, codes_of, ref, text_of

__all__ = ["Death", "death_of", "death_warning", "place_of_death", "readable_time",
           "MOOT_AFTER_DEATH"]

_LIVE = {"final", "amended", "corrected"}
# Warnings that ask for something to be done for a living person (review a decision or a
# plan, ask for a preference): after death they are noise above what matters. The
# sections still show the facts (a review date that passed is still written there).
MOOT_AFTER_DEATH = frozenset({"cpr-review-overdue", "acp-review-overdue",
                              "no-first-choice-place-of-death"})


@dataclass(frozen=True)
class Death:
    when: str | None  # as recorded (dateTime), None when only "deceased: true" is known
    place: dict[str, Any] | None  # the latest actual place of death, when recorded
    patients: tuple[dict[str, Any], ...]  # the records that say so

    def summary(self) -> str:
        """``died 2026-11-02 04:10 UTC, in Hospice`` (what is known of it)."""
        text = f"died {readable_time(self.when)}" if self.when else "has died (time not recorded)"
        if self.place is not None:
            text += f", place of death: {text_of(self.place.get('valueCodeableConcept'))}"
        return text


def place_of_death(found: Found) -> dict[str, Any] | None:
    """The latest actual place of death recorded (a correction replaces the first one)."""
    places = [o for o in found.of("Observation") if o.get("status") in _LIVE
              and "actual-place-of-death" in codes_of(o.get("code"))]
    return max(places, key=lambda o: str(o.get("effectiveDateTime") or ""), default=None)


def death_of(found: Found, patients: list[dict[str, Any]]) -> Death | None:
    dead = tuple(p for p in patients
                 if p.get("deceasedBoolean") is True or p.get("deceasedDateTime"))
    place = place_of_death(found)
    if not dead and place is None:
        return None
    when = next((str(p["deceasedDateTime"]) for p in dead if p.get("deceasedDateTime")), None)
    if when is None and place is not None and place.get("effectiveDateTime"):
        when = str(place["effectiveDateTime"])
    return Death(when, place, dead)


def death_warning(death: Death) -> Warning:
    implicated = [ref(p) for p in death.patients]
    if death.place is not None:
        implicated.append(ref(death.place))
    return Warning("deceased", f"this person {death.summary()}", implicated)


def readable_time(value: str | None) -> str:
    """``2026-11-02T04:10:00Z`` -> ``2026-11-02 04:10 UTC``; a date stays a date."""
    if not value or "T" not in value:
        return value or "unknown"
    day, _, rest = value.partition("T")
    clock, zone = rest[:5], rest[8:].lstrip(".0123456789")
    return f"{day} {clock} {'UTC' if zone in ('Z', '+00:00') else zone}".rstrip()
