"""Element ids of a differential: as written, or derived from path and sliceName when absent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eolc_fhir.validation.rules import ProfileCompileError

__all__ = ["element_ids"]


def element_ids(elements: Sequence[Mapping[str, Any]], url: str) -> list[str]:
    """One id per element, in order.

    ElementDefinition.id is optional in a differential. The specification builds it from
    the path, with ``:sliceName`` after each segment that lies inside a slice; a slice
    opens where an element with ``sliceName`` appears and lasts until the sliced path is
    declared again (the elements of a differential come in snapshot order).
    """
    open_slices: dict[str, str] = {}  # sliced path -> name of the slice being described
    ids = []
    for index, element in enumerate(elements):
        path = element.get("path")
        if not isinstance(path, str) or not path:
            raise ProfileCompileError(f"{url}: differential element {index} has no path")
        for known in [p for p in open_slices if p == path or p.startswith(path + ".")]:
            del open_slices[known]
        slice_name = element.get("sliceName")
        if isinstance(slice_name, str) and slice_name:
            open_slices[path] = slice_name
        given = element.get("id")
        if isinstance(given, str) and given:
            ids.append(given)
            continue
        segments = path.split(".")
        built = []
        for depth, segment in enumerate(segments):
            name = open_slices.get(".".join(segments[: depth + 1]))
            built.append(f"{segment}:{name}" if name else segment)
        ids.append(".".join(built))
    return ids
