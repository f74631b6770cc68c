"""Local terminology: expand / validate-code / lookup over the loaded CodeSystems and ValueSets.

Pure functions over the conformance resources in ``profiles/``; no external
terminology server. A ValueSet's ``compose`` may include whole local
CodeSystems, enumerated concepts of any system, and other local ValueSets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eolc_fhir.fhir.errors import InvalidRequest, NotFound

__all__ = ["Concept", "Terminology"]


@dataclass(frozen=True, slots=True)
class Concept:
    """One code of an expansion."""

    system: str
    code: str
    display: str | None = None


def _canonical(url: str) -> str:
    # Canonical references may carry a version: "url|1.0".
    return url.split("|", 1)[0]


class Terminology:
    """Expansions of every local ValueSet, computed once at load."""

    def __init__(
        self, code_systems: Iterable[Mapping[str, Any]], value_sets: Iterable[Mapping[str, Any]]
    ):
        self.code_systems: dict[str, Mapping[str, Any]] = {cs["url"]: cs for cs in code_systems}
        self.value_sets: dict[str, Mapping[str, Any]] = {vs["url"]: vs for vs in value_sets}
        self._expansions: dict[str, tuple[Concept, ...]] = {}
        self._members: dict[str, frozenset[tuple[str, str]]] = {}
        self._codes: dict[str, frozenset[str]] = {}
        self._displays: dict[tuple[str, str], str] = {}
        for url in self.value_sets:
            self._expand_concepts(url, ())
        for concepts in self._expansions.values():
            for c in concepts:
                if c.display:
                    self._displays.setdefault((c.system, c.code), c.display)

    # -- membership (the validator's hot path) ---------------------------------
    def knows_value_set(self, url: str) -> bool:
        return _canonical(url) in self.value_sets

    def contains(self, vs_url: str, system: str | None, code: str | None) -> bool:
        """Is (system, code) in the ValueSet? system None means "any system" (a bare code)."""
        url = _canonical(vs_url)
        if code is None or url not in self._members:
            return False
        if system is None:
            return code in self._codes[url]
        return (system, code) in self._members[url]

    def subsumption(self, system: str, code: str, direction: str) -> frozenset[str] | None:
        """``below``: the code and every code under it in a local CodeSystem's ``concept``
        hierarchy; ``above``: the code and every code it sits under. None when the server
        holds no such CodeSystem (SNOMED CT): subsumption cannot be answered here."""
        cs = self.code_systems.get(system)
        if cs is None:
            return None
        path = _concept_path(cs.get("concept", []), code)
        if path is None:
            return frozenset()
        if direction == "above":
            return frozenset(c["code"] for c in path)
        return frozenset(c["code"] for c in _flatten({"concept": [path[-1]]}))

    def concepts(self, vs_url: str) -> tuple[Concept, ...]:
        url = _canonical(vs_url)
        if url not in self._expansions:
            raise NotFound(f"ValueSet {vs_url} is not known to this server")
        return self._expansions[url]

    # -- expansion --------------------------------------------------------------
    def _expand_concepts(self, url: str, seen: tuple[str, ...]) -> tuple[Concept, ...]:
        if url in self._expansions:
            return self._expansions[url]
        if url in seen:
            raise InvalidRequest(f"ValueSet {url} includes itself")
        vs = self.value_sets.get(url)
        if vs is None:
            raise InvalidRequest(f"ValueSet {url} is not known to this server")
        compose = vs.get("compose", {})
        included = self._collect(compose.get("include", []), (*seen, url))
        excluded = {
            (c.system, c.code) for c in self._collect(compose.get("exclude", []), (*seen, url))
        }
        result: dict[tuple[str, str], Concept] = {}
        for c in included:
            if (c.system, c.code) not in excluded:
                result.setdefault((c.system, c.code), c)
        concepts = tuple(result.values())
        self._expansions[url] = concepts
        self._members[url] = frozenset(result)
        self._codes[url] = frozenset(code for _, code in result)
        return concepts

    def _collect(self, parts: Iterable[Mapping[str, Any]], seen: tuple[str, ...]) -> list[Concept]:
        out: list[Concept] = []
        for part in parts:
            out.extend(self._include(part, seen))
        return out

    def _include(self, part: Mapping[str, Any], seen: tuple[str, ...]) -> list[Concept]:
        system = part.get("system")
        found: list[Concept] | None = None
        if system is not None:
            if part.get("concept"):
                found = [Concept(system, c["code"], c.get("display")) for c in part["concept"]]
            elif system in self.code_systems:
                found = [
                    Concept(system, c["code"], c.get("display"))
                    for c in _flatten(self.code_systems[system])
                ]
            else:
                raise InvalidRequest(
                    f"ValueSet include of the whole of {system}, which this server does not hold"
                )
        for vs_url in part.get("valueSet", []):
            members = self._expand_concepts(_canonical(vs_url), seen)
            keys = {(m.system, m.code) for m in members}
            found = (
                list(members) if found is None else [c for c in found if (c.system, c.code) in keys]
            )
        return found or []

    def expand(self, valueset_url: str, filter: str | None = None) -> dict[str, Any]:
        """ValueSet/$expand: the ValueSet with an ``expansion`` (optionally filtered by text)."""
        vs = self.value_sets.get(_canonical(valueset_url))
        if vs is None:
            raise NotFound(f"ValueSet {valueset_url} is not known to this server")
        concepts = self.concepts(valueset_url)
        if filter:
            needle = filter.casefold()
            concepts = tuple(
                c
                for c in concepts
                if needle in c.code.casefold() or needle in (c.display or "").casefold()
            )
        contains = []
        for c in concepts:
            item = {"system": c.system, "code": c.code}
            if c.display:
                item["display"] = c.display
            contains.append(item)
        expansion: dict[str, Any] = {
            "identifier": f"urn:eolc:expansion:{vs['url']}|{vs.get('version', '')}",
            "timestamp": vs.get("date", "2026-01-01"),
            "total": len(contains),
            "contains": contains,
        }
        if filter:
            expansion["parameter"] = [{"name": "filter", "valueString": filter}]
        result = {k: v for k, v in vs.items() if k != "compose"}
        result["expansion"] = expansion
        return result

    # -- $validate-code / $lookup ----------------------------------------------
    def validate_code(
        self, url: str, system: str | None, code: str, display: str | None = None
    ) -> dict[str, Any]:
        """$validate-code against a ValueSet url (or a CodeSystem url): a Parameters resource."""
        canonical = _canonical(url)
        if canonical in self.value_sets:
            ok = self.contains(canonical, system, code)
            where = f"the value set {canonical}"
            known = self._find_display(canonical, system, code)
        elif canonical in self.code_systems:
            if system is not None and system != canonical:
                return _result(False, f"The system {system} is not the code system {canonical}")
            concept = _find_concept(self.code_systems[canonical], code)
            ok, where, known = (
                concept is not None,
                f"the code system {canonical}",
                (concept or {}).get("display"),
            )
        else:
            raise NotFound(f"No ValueSet or CodeSystem {url} is known to this server")
        if not ok:
            return _result(False, f"The code {system or ''}|{code} is not in {where}")
        if display is not None and known is not None and display.casefold() != known.casefold():
            return _result(
                False,
                f"The display '{display}' is not the display of {code}; expected '{known}'",
                known,
            )
        return _result(True, None, known)

    def _find_display(self, vs_url: str, system: str | None, code: str) -> str | None:
        for c in self._expansions[vs_url]:
            if c.code == code and system in (None, c.system):
                return c.display
        return None

    def lookup(self, system: str, code: str) -> dict[str, Any]:
        """CodeSystem/$lookup for a local CodeSystem, or a code a local ValueSet enumerates."""
        if system in self.code_systems:
            cs = self.code_systems[system]
            concept = _find_concept(cs, code)
            if concept is None:
                raise NotFound(f"The code {code} is not in the code system {system}")
            params = [
                {"name": "name", "valueString": cs.get("name", system)},
                {"name": "display", "valueString": concept.get("display", code)},
            ]
            if "version" in cs:
                params.insert(1, {"name": "version", "valueString": cs["version"]})
            if "definition" in concept:
                params.append({"name": "definition", "valueString": concept["definition"]})
            return {"resourceType": "Parameters", "parameter": params}
        display = self._displays.get((system, code))
        if display is None:
            raise NotFound(f"The code {system}|{code} is not known to this server")
        # Codes of external systems (SNOMED CT) are known only through our value sets.
        return {
            "resourceType": "Parameters",
            "parameter": [
                {
                    "name": "name",
                    "valueString": f"{system} (codes used by this server's value sets)",
                },
                {"name": "display", "valueString": display},
            ],
        }


def _result(ok: bool, message: str | None, display: str | None = None) -> dict[str, Any]:
    params: list[dict[str, Any]] = [{"name": "result", "valueBoolean": ok}]
    if message:
        params.append({"name": "message", "valueString": message})
    if display:
        params.append({"name": "display", "valueString": display})
    return {"resourceType": "Parameters", "parameter": params}


def _flatten(cs: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    stack = list(cs.get("concept", []))
    while stack:
        concept = stack.pop(0)
        out.append(concept)
        stack.extend(concept.get("concept", []))
    return out


def _find_concept(cs: Mapping[str, Any], code: str) -> Mapping[str, Any] | None:
    return next((c for c in _flatten(cs) if c["code"] == code), None)


def _concept_path(concepts: Iterable[Mapping[str, Any]],
                  code: str) -> list[Mapping[str, Any]] | None:
    """The concepts from the top of the hierarchy down to ``code`` (None: not there)."""
    for concept in concepts:
        if concept.get("code") == code:
            return [concept]
        below = _concept_path(concept.get("concept", []), code)
        if below is not None:
            return [concept, *below]
    return None
