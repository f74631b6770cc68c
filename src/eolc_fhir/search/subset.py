"""_summary and _elements: cut a resource down to the elements asked for (SUBSETTED)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson

from eolc_fhir.fhir.models import model_class

__all__ = ["subset", "SUBSETTED"]

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "subsetted",
}
_ALWAYS = frozenset({"resourceType", "id", "meta"})


@lru_cache(maxsize=256)
def _summary_elements(resource_type: str) -> frozenset[str]:
    try:
        cls = model_class(resource_type)
    except KeyError:
        return _ALWAYS
    names = set(_ALWAYS)
    for name, info in cls.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and (extra.get("summary_element_property")
                                        or extra.get("element_required")):
            names.add(info.alias or name)
    return frozenset(names)


def _keep(resource: dict[str, Any], names: frozenset[str] | set[str]) -> dict[str, Any]:
    # Primitive extensions (_birthDate) travel with their element.
    return {k: v for k, v in resource.items() if k in names or k.lstrip("_") in names}


def _mark(resource: dict[str, Any]) -> dict[str, Any]:
    meta = dict(resource.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    resource["meta"] = meta
    return resource


def subset(content: bytes, resource_type: str, summary: str | None,
           elements: tuple[str, ...]) -> bytes:
    """The stored bytes, or a subsetted copy when ``_summary``/``_elements`` ask for one."""
    if summary in (None, "false") and not elements:
        return content
    resource = orjson.loads(content)
    if summary == "true":
        cut = _keep(resource, _summary_elements(resource_type))
    elif summary == "text":
        cut = _keep(resource, {"resourceType", "id", "meta", "text"}
                    | set(_required(resource_type)))
    elif summary == "data":
        cut = {k: v for k, v in resource.items() if k != "text"}
    else:
        cut = _keep(resource, set(elements) | _ALWAYS | set(_required(resource_type)))
    return orjson.dumps(_mark(cut))


@lru_cache(maxsize=256)
def _required(resource_type: str) -> tuple[str, ...]:
    try:
        cls = model_class(resource_type)
    except KeyError:
        return ()
    out = []
    for name, info in cls.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get("element_required"):
            out.append(info.alias or name)
    return tuple(out)
