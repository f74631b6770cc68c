"""The strict walk finds everything the R4B model finds, so writes run the walk alone.

The R4B ``model_validate`` pass was the largest single cost of a create (about a quarter
of the server's CPU). The write path now relies on the strict walk (``fhir/_walk.py``)
and only ``$validate`` runs the model as well. That is safe only while the model never
refuses what the walk accepts: checked here on every official example the tests hold
(FHIR R4, the Subscriptions Backport IG, the project's own examples) and on seeded
mutants of each: an element deleted, given a value of another type or form, wrapped in
or taken out of a list, replaced by another element's value, an element name added or
swapped for another. Before this was made the rule, 65,000 such mutants (other seeds)
found no difference either.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from eolc_fhir.fhir._model_check import model_issues
from eolc_fhir.fhir._walk import walk_resource

_ROOT = Path(__file__).resolve().parents[2]
_FILES = sorted([*(_ROOT / "tests" / "data" / "fhir-r4").glob("*.json"),
                 *(_ROOT / "tests" / "data" / "subscriptions-backport").glob("*.json"),
                 *(_ROOT / "examples").glob("*.json")])
_VALUES: list[Any] = [None, "", "x", "not a date", "2020-13-45", 1, -1, 0, 1.5, True, False,
                      [], {}, ["a"], [{}], {"a": 1}, " lead", "a\u0000b", 10**20,
                      "2020-01-01T10:00:00", "2020-01-01T10:00", "1e5", {"value": 1},
                      [{"system": "x"}]]
_NAMES = ["valueString", "valueQuantity", "valueBoolean", "effectiveDateTime",
          "effectivePeriod", "onsetAge", "_status", "_id", "contained", "modifierExtension",
          "extension", "id"]
_MUTANTS = 100  # per example; about 11,000 in all


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        items: Any = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return
    for key, value in items:
        yield (*path, key)
        yield from _paths(value, (*path, key))


def _at(root: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        root = root[step]
    return root


def _mutant(example: dict[str, Any], rng: random.Random) -> dict[str, Any] | None:
    mutant = copy.deepcopy(example)
    paths = [p for p in _paths(mutant) if p[0] != "resourceType"]
    names = sorted({s for p in paths for s in p if isinstance(s, str)} | set(_NAMES))
    path = rng.choice(paths)
    parent, key, node = _at(mutant, path[:-1]), path[-1], _at(mutant, path)
    roll = rng.random()
    if roll < 0.2:
        del parent[key]
    elif roll < 0.45:
        parent[key] = copy.deepcopy(rng.choice(_VALUES))
    elif roll < 0.55:
        parent[key] = node[0] if isinstance(node, list) and node else [copy.deepcopy(node)]
    elif roll < 0.7:
        parent[key] = copy.deepcopy(_at(mutant, rng.choice(paths)))
    elif isinstance(node, dict):
        name = rng.choice(names)
        if name in node:
            return None
        if roll < 0.85:
            node[name] = copy.deepcopy(rng.choice(_VALUES))
        elif node:
            node[name] = node.pop(rng.choice(list(node)))
    else:
        return None
    return mutant


def _model_only(resource: dict[str, Any]) -> list[str]:
    """What the model refuses in a resource the walk accepts."""
    rtype = resource["resourceType"]
    if walk_resource(resource, rtype):
        return []
    return [issue.diagnostics for issue in model_issues(resource, rtype, [])]


def test_the_examples_are_here() -> None:
    assert len(_FILES) > 100


@pytest.mark.parametrize("path", _FILES, ids=[p.name for p in _FILES])
def test_the_model_refuses_nothing_the_walk_accepts(path: Path) -> None:
    example = orjson.loads(path.read_bytes())
    assert _model_only(example) == []
    rng = random.Random(path.name)
    tried = 0
    while tried < _MUTANTS:
        mutant = _mutant(example, rng)
        if mutant is None:
            continue
        tried += 1
        found = _model_only(mutant)
        assert found == [], (orjson.dumps(mutant).decode()[:2000], found)
