"""FHIR search: the parameter registry, index extraction, query planning, matcher."""

from eolc_fhir.search.controls import Controls, Include
from eolc_fhir.search.parse import ParsedSearch, UnknownParameter, parse_search
from eolc_fhir.search.registry import SearchParam, SearchRegistry

__all__ = [
    "Controls",
    "Include",
    "ParsedSearch",
    "SearchParam",
    "SearchRegistry",
    "UnknownParameter",
    "parse_search",
]
