"""_include and _revinclude (with :iterate) for a page of search matches."""

from __future__ import annotations

from collections import defaultdict

from eolc_fhir.search import Controls, Include
from eolc_fhir.storage.search_repo import IncludeLookups

__all__ = ["gather_includes", "MAX_ITERATIONS", "MAX_INCLUDED"]

MAX_ITERATIONS = 4  # :iterate rounds; reference graphs here are shallow
MAX_INCLUDED = 5000
Key = tuple[str, str]


async def gather_includes(lookups: IncludeLookups, controls: Controls,
                          matches: list[tuple[str, str, bytes]]) -> list[tuple[str, str, bytes]]:
    """Resources the page's matches pull in, each once, never repeating a match."""
    if not controls.includes and not controls.revincludes:
        return []
    seen: set[Key] = {(t, i) for t, i, _ in matches}
    frontier: list[Key] = sorted(seen)
    out: list[tuple[str, str, bytes]] = []
    for round_no in range(MAX_ITERATIONS + 1):
        specs = [s for s in controls.includes if round_no == 0 or s.iterate]
        rev = [s for s in controls.revincludes if round_no == 0 or s.iterate]
        if not (specs or rev) or not frontier:
            break
        keys = await _round(lookups, specs, rev, frontier)
        new = [k for k in keys if k not in seen][: MAX_INCLUDED - len(out)]
        seen.update(new)
        found = await lookups.fetch_current(new)
        out.extend(found)
        frontier = [(rtype, rid) for rtype, rid, _ in found]
    return out


async def _round(lookups: IncludeLookups, specs: list[Include], rev: list[Include],
                 frontier: list[Key]) -> list[Key]:
    by_type: dict[str, list[str]] = defaultdict(list)
    for rtype, rid in frontier:
        by_type[rtype].append(rid)
    keys: list[Key] = []
    for spec in specs:
        sources = list(by_type) if spec.source_type == "*" else [spec.source_type]
        for source in sources:
            if source in by_type:
                param = None if spec.param == "*" else spec.param
                keys += await lookups.include_keys(source, by_type[source], param,
                                                   spec.target_type)
    for spec in rev:
        param = None if spec.param == "*" else spec.param
        for target_type, ids in by_type.items():
            if spec.target_type and spec.target_type != target_type:
                continue
            keys += await lookups.revinclude_keys(spec.source_type, param, target_type, ids)
    return sorted(set(keys))
