"""Does a change fire a topic, and does it meet a subscription's filters? (in memory)

A trigger fires on its resource type and interactions, when the resource meets
one of its profiles and its FHIRPath criteria (``%current``, ``%previous``) hold.

Filters are FHIR searches on the topic's resource type, evaluated by the search
registry's in-memory matcher (the same semantics as the database search). Parsed
filters and the changed resource's index rows are computed once per change.
Chains, ``_has`` and ``_list`` look past the resource: its own side comes from its
index rows in memory (so a deleted resource's last version still answers), the
other side from the database inside the write's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import orjson

from eolc_fhir.fhir.errors import FhirError, ProfileViolation
from eolc_fhir.search.matcher import needs_database, query_matches
from eolc_fhir.search.parse import parse_search
from eolc_fhir.services.context import ServerContext
from eolc_fhir.storage.model import IndexRows
from eolc_fhir.storage.query import (
    Chain,
    Clause,
    Criterion,
    Either,
    Has,
    IdTest,
    InList,
    Query,
    ReferenceTest,
)
from eolc_fhir.storage.unit_of_work import UnitOfWork
from eolc_fhir.subscriptions.spec import Filter
from eolc_fhir.subscriptions.topics import Topic
from eolc_fhir.validation.fhirpath import InvariantCompileError, compile_expression

__all__ = ["Matcher", "patient_id_of"]

_PLAN_CACHE_LIMIT = 4096
Criteria = Callable[[Any, Mapping[str, Any]], list[Any]]


def patient_id_of(resource: dict[str, Any]) -> str | None:
    """The Patient a resource is about (itself for a Patient)."""
    if resource.get("resourceType") == "Patient":
        own_id: str | None = resource.get("id")
        return own_id
    for key in ("patient", "subject"):
        ref = resource.get(key)
        reference = ref.get("reference") if isinstance(ref, dict) else None
        if isinstance(reference, str):
            head, _, tail = reference.rstrip("/").rpartition("/")
            if head.endswith("Patient"):
                return tail
    return None


class Matcher:
    def __init__(self, ctx: ServerContext, topics: Iterable[Topic] = ()) -> None:
        self.ctx = ctx
        self._plans: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}
        # Every topic's FHIRPath criteria, compiled once: a wrong one stops the start.
        self._criteria: dict[str, Criteria] = {}
        for topic in topics:
            for trigger in topic.triggers:
                if trigger.fhirpath and trigger.fhirpath not in self._criteria:
                    self._criteria[trigger.fhirpath] = _compile(topic.url, trigger.fhirpath)

    def fires(self, topic: Topic, interaction: str, rtype: str,
              versions: Sequence[dict[str, Any]], *, current: dict[str, Any] | None = None,
              previous: dict[str, Any] | None = None) -> bool:
        """Does the change (``current`` after it, ``previous`` before) fire ``topic``?"""
        trigger = topic.trigger_for(rtype, interaction)
        if trigger is None:
            return False
        if trigger.fhirpath and not self._criteria_hold(trigger.fhirpath, current, previous):
            return False
        validator = self.ctx.validator
        if not trigger.profiles or not hasattr(validator, "applicable_profiles"):
            return True
        wanted = set(trigger.profiles)
        return any(wanted.intersection(validator.applicable_profiles(v)) for v in versions)

    def _criteria_hold(self, expression: str, current: dict[str, Any] | None,
                       previous: dict[str, Any] | None) -> bool:
        criteria = self._criteria.get(expression)
        if criteria is None:
            criteria = self._criteria[expression] = _compile("", expression)
        focus = current if current is not None else previous
        env = {"current": current if current is not None else [],
               "previous": previous if previous is not None else []}
        return criteria(focus, env) == [True]

    def check(self, rtype: str, params: list[tuple[str, str]], topic_url: str) -> None:
        """422 unless the search registry understands the filter (done at subscribe time)."""
        try:
            if self.ctx.search is not None and needs_database(self._plan(rtype, tuple(params))):
                return  # parsed: its database part is evaluated at each change
            self._match_one({"resourceType": rtype, "id": "probe"}, rtype, tuple(params), {})
        except FhirError as exc:
            raise ProfileViolation(f"filter {rtype}?{_query(params)} of topic {topic_url} "
                                   f"cannot be evaluated: {exc}", code="business-rule",
                                   expression="Subscription.criteria") from None

    def _plan(self, rtype: str, params: tuple[tuple[str, str], ...]) -> Any:
        key = (rtype, params)
        plan = self._plans.get(key)
        if plan is None:  # parsed once; the resource is indexed once per change
            plan = parse_search(self.ctx.search, rtype, list(params)).query
            if len(self._plans) > _PLAN_CACHE_LIMIT:
                self._plans.clear()
            self._plans[key] = plan
        return plan

    def _match_one(self, resource: dict[str, Any], rtype: str,
                   params: tuple[tuple[str, str], ...], rows_cache: dict[int, Any]) -> bool:
        if resource.get("resourceType") != rtype:
            return False
        search = self.ctx.search
        if search is None:
            return _fallback_match(resource, params)
        plan = self._plan(rtype, params)
        rows = rows_cache.get(id(resource))
        if rows is None:
            rows = rows_cache[id(resource)] = search.extract(resource)
        return bool(query_matches(plan, resource, rows))

    async def filters_match(self, uow: UnitOfWork, topic: Topic, filters: Sequence[Filter],
                            rtype: str, versions: Sequence[dict[str, Any]],
                            cache: dict[Any, Any]) -> bool:
        """True when one version (or its Patient, for patient topics) meets every filter."""
        if not filters:
            return True
        targets = versions
        if topic.filters_on_patient:
            targets = await self._patients(uow, versions, cache)
        rows_cache = cache.setdefault("rows", {})
        for target in targets:
            ok = True
            for f in filters:
                key = (id(target), f)
                if key not in cache:
                    cache[key] = await self._match_filter(uow, target, f, rows_cache)
                if not cache[key]:
                    ok = False
                    break
            if ok:
                return True
        return False

    async def _match_filter(self, uow: UnitOfWork, resource: dict[str, Any], f: Filter,
                            rows_cache: dict[int, Any]) -> bool:
        search = self.ctx.search
        if search is None or resource.get("resourceType") != f.resource_type:
            return self._match_one(resource, f.resource_type, f.params, rows_cache)
        plan = self._plan(f.resource_type, f.params)
        if not needs_database(plan):
            return self._match_one(resource, f.resource_type, f.params, rows_cache)
        rows = rows_cache.get(id(resource))
        if rows is None:
            rows = rows_cache[id(resource)] = search.extract(resource)
        return await _all_hold(uow, plan.clauses, resource, rows)

    async def _patients(self, uow: UnitOfWork, versions: Sequence[dict[str, Any]],
                        cache: dict[Any, Any]) -> list[dict[str, Any]]:
        if "patients" in cache:
            return list(cache["patients"])
        found: list[dict[str, Any]] = []
        for version in versions:
            if version.get("resourceType") == "Patient":
                found.append(version)
                continue
            pid = patient_id_of(version)
            if pid is None:
                continue
            stored = await uow.resources.get_current("Patient", pid)
            if stored is not None and stored.content is not None:
                found.append(orjson.loads(stored.content))
        cache["patients"] = found
        return found


async def _all_hold(uow: UnitOfWork, clauses: Sequence[Clause], resource: dict[str, Any],
                    rows: IndexRows) -> bool:
    for clause in clauses:
        if not await _holds(uow, clause, resource, rows):
            return False
    return True


async def _holds(uow: UnitOfWork, clause: Clause, resource: dict[str, Any],
                 rows: IndexRows) -> bool:
    """One filter clause on one resource version; the database answers for the far side."""
    rtype, rid = str(resource.get("resourceType")), str(resource.get("id"))
    if isinstance(clause, Either):
        for branch in clause.branches:
            if await _all_hold(uow, branch, resource, rows):
                return True
        return False
    if isinstance(clause, Chain):
        refs = [(r.target_type, r.target_id) for r in rows.references
                if r.param == clause.param and r.target_id is not None]
        for target in clause.targets:
            ids = tuple(i for t, i in refs if t == target.resource_type)
            if ids and await _any(uow, Query(target.resource_type,
                                             (IdTest(ids), *target.clauses))):
                return True
        return False
    pointing_here = (ReferenceTest(rid, (rtype,)),)
    if isinstance(clause, Has):
        source = clause.source
        found = await _any(uow, Query(source.resource_type, (
            Criterion("reference", clause.param, pointing_here), *source.clauses)))
        return found != clause.negate
    if isinstance(clause, InList):
        return await _any(uow, Query("List", (IdTest((clause.list_id,)),
                                              Criterion("reference", "item", pointing_here))))
    return query_matches(Query(rtype, (clause,)), resource, rows)


async def _any(uow: UnitOfWork, query: Query) -> bool:
    return bool(await uow.search.match_ids(query, 1))


def _compile(topic_url: str, expression: str) -> Criteria:
    try:
        return compile_expression(expression)
    except InvariantCompileError as exc:
        raise InvariantCompileError(
            f"topic {topic_url}: fhirPathCriteria cannot be used: {exc}") from None


def _query(params: Sequence[tuple[str, str]]) -> str:
    return "&".join(f"{k}={v}" for k, v in params)


def _fallback_match(resource: dict[str, Any], params: tuple[tuple[str, str], ...]) -> bool:
    """Without a search registry: exact ``patient``, ``status`` and ``_id`` only."""
    for name, value in params:
        if name == "_id":
            ok = resource.get("id") in value.split(",")
        elif name == "status":
            ok = resource.get("status") in value.split(",")
        elif name == "patient":
            ok = f"Patient/{patient_id_of(resource)}" in value.split(",")
        else:
            raise ProfileViolation(f"filter '{name}' needs the search registry",
                                   code="not-supported")
        if not ok:
            return False
    return True
