"""A GP person's searches, narrowed in the query itself to their practice's people.

The answer is filtered again on its way out (security/practice.py), but a
filter alone would page badly: twenty results a page, most of them someone
else's person. So the query gets one more clause, through the index: a Patient
whose ``general-practitioner`` is an Organization with the practice's ODS code,
and for other types, a ``patient`` that is such a Patient. Types with no
``patient`` parameter (Organizations, definitions) and Provenance (about its
targets, not a patient) are left to the answer's filter.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from eolc_fhir.search import ParsedSearch, SearchRegistry
from eolc_fhir.search.parse import parse_clause
from eolc_fhir.security.practice import bound_practice
from eolc_fhir.security.principal import current_principal
from eolc_fhir.storage.query import Chain, Clause, Query
from eolc_fhir.storage.security_repo import ODS_SYSTEM

__all__ = ["narrow_to_practice"]

_BY_TARGETS = frozenset({"Provenance"})


def narrow_to_practice(registry: SearchRegistry, parsed: ParsedSearch) -> ParsedSearch:
    """``parsed`` for the calling principal: unchanged unless a GP person calls."""
    practice = bound_practice(current_principal())
    if practice is None:
        return parsed
    clause = _practice_clause(registry, parsed.query.resource_type, practice)
    if clause is None:
        return parsed
    query = replace(parsed.query, clauses=(*parsed.query.clauses, clause))
    return replace(parsed, query=query)


@lru_cache(maxsize=512)  # a few practices and types, asked on every search
def _practice_clause(registry: SearchRegistry, rtype: str, practice: str) -> Clause | None:
    code = f"{ODS_SYSTEM}|{practice}"
    # The reference to the practice's Organization only, as storage/security_repo.py's
    # practices_of reads it: an OR with the logical (ODS identifier) form made every GP
    # person's search 8 times slower (the planner loses the index on the OR).
    registered = parse_clause(registry, "Patient", "general-practitioner:Organization.identifier",
                              code)
    if rtype == "Patient":
        return registered
    param = registry.get(rtype, "patient")
    if rtype in _BY_TARGETS or param is None or param.kind != "reference" or \
            "Patient" not in param.targets:
        return None
    return Chain("patient", (Query("Patient", (registered,)),))
