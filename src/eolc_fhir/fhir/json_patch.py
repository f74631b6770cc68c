"""JSON Patch (RFC 6902) on a resource dict, with FHIRPath locations in every error.

    read_json_patch(document)      400 unless a well-formed list of operations
    apply_json_patch(resource, ops)  the patched copy; 422 naming the failing operation

The operations themselves are the ``jsonpatch`` library's; this module only checks
the document first (so a malformed one is a 400, not a half-applied one) and says
where a failure happened in FHIR terms (``Patient.name[0].given``).
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from eolc_fhir.fhir.errors import InvalidRequest, Issue, ProfileViolation

__all__ = ["read_json_patch", "apply_json_patch", "pointer_to_fhirpath", "MAX_COPIED_NODES"]

# ``copy`` is the one operation that grows a document beyond what the request carried:
# copying a list into itself doubles it, so a few dozen operations could fill the memory.
MAX_COPIED_NODES = 100_000
_NEEDS = {"add": ("path", "value"), "remove": ("path",), "replace": ("path", "value"),
          "move": ("from", "path"), "copy": ("from", "path"), "test": ("path", "value")}


def read_json_patch(document: Any) -> list[dict[str, Any]]:
    """The operations of a JSON Patch document; ``InvalidRequest`` (400) for a malformed one."""
    if not isinstance(document, list):
        raise InvalidRequest("a JSON Patch document is a JSON array of operations",
                             code="structure")
    if not document:
        raise InvalidRequest("the JSON Patch document has no operations", code="required")
    for index, operation in enumerate(document):
        _check_operation(index, operation)
    return document


def _check_operation(index: int, operation: Any) -> None:
    where = f"/{index}"
    if not isinstance(operation, dict):
        raise InvalidRequest(f"operation {where} is not a JSON object", code="structure")
    op = operation.get("op")
    if op not in _NEEDS:
        raise InvalidRequest(f"operation {where} has op {op!r}; expected one of "
                             f"{', '.join(_NEEDS)}", code="value")
    for member in _NEEDS[op]:
        if member not in operation:
            raise InvalidRequest(f"operation {where} ({op}) needs '{member}'", code="required")
    for member in ("path", "from"):
        if member in operation:
            _check_pointer(where, member, operation[member])


def _check_pointer(where: str, member: str, pointer: Any) -> None:
    if not isinstance(pointer, str):
        raise InvalidRequest(f"operation {where}: '{member}' must be a string", code="structure")
    try:
        jsonpointer.JsonPointer(pointer)
    except jsonpointer.JsonPointerException as exc:
        raise InvalidRequest(f"operation {where}: '{member}' {pointer!r} is not a JSON "
                             f"Pointer ({exc})", code="value") from None


def apply_json_patch(resource: dict[str, Any], operations: list[dict[str, Any]]) -> Any:
    """Apply ``operations`` in order to a copy of ``resource``; the input is never changed.

    A failed ``test``, a path that does not exist, or any other operation that cannot
    apply raises ``ProfileViolation`` (422) naming the operation and the element.
    """
    rtype = str(resource.get("resourceType", "Resource"))
    document: Any = copy.deepcopy(resource)
    copied = 0
    for index, operation in enumerate(operations):
        try:
            if operation["op"] == "copy":
                copied += _nodes(jsonpointer.resolve_pointer(document, operation["from"]),
                                 MAX_COPIED_NODES - copied)
                if copied > MAX_COPIED_NODES:
                    raise ProfileViolation(f"JSON Patch operation {index} copies more than "
                                           f"{MAX_COPIED_NODES} elements in all",
                                           code="too-costly")
            document = jsonpatch.JsonPatch([operation]).apply(document, in_place=True)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            raise _failure(rtype, index, operation, exc) from None
    return document


def _failure(rtype: str, index: int, operation: dict[str, Any],
             exc: Exception) -> ProfileViolation:
    """Why an operation failed, in our words: the library's messages quote the document
    (patient data), which neither the answer nor the audit record may carry."""
    op, path = operation["op"], operation["path"]
    if isinstance(exc, jsonpatch.JsonPatchTestFailed):
        why = "the value there is not the one tested"
    elif op in ("move", "copy"):
        why = f"'{operation['from']}' or '{path}' does not exist or cannot take the value"
    else:
        why = "there is no such element" if op != "add" else "its parent does not exist"
    return ProfileViolation(issues=[Issue(
        "error", "processing", f"JSON Patch operation {index} ({op} {path}) failed: {why}",
        (pointer_to_fhirpath(rtype, path),))])


def _nodes(value: Any, budget: int) -> int:
    """How many JSON values ``value`` holds, counting no further than just past ``budget``."""
    count, stack = 0, [value]
    while stack and count <= budget:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def pointer_to_fhirpath(rtype: str, pointer: str) -> str:
    """'/name/0/given' -> 'Patient.name[0].given'; '-' (the end of a list) is left out."""
    try:
        parts = jsonpointer.JsonPointer(pointer).parts
    except jsonpointer.JsonPointerException:
        return rtype
    path = rtype
    for part in parts:
        if part.isdigit():
            path += f"[{part}]"
        elif part != "-":
            path += f".{part}"
    return path
