"""Only the write path stores resources: no module but services/resources/writes.py calls the
repository's resource writes, so every stored resource passes its validator door
(services/resources/admission.py). A new path that calls the repository directly fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "eolc_fhir"
_RESOURCE_WRITES = {"insert_new", "insert_new_many", "replace_current"}
_ALLOWED = {SRC / "services" / "resources" / "writes.py"}


def _callers() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path in _ALLOWED or SRC / "storage" in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in _RESOURCE_WRITES:
                found.append(f"{path.relative_to(SRC)}:{node.lineno} {node.func.attr}")
    return found


def test_only_the_write_path_calls_the_repositorys_resource_writes() -> None:
    assert _callers() == []
