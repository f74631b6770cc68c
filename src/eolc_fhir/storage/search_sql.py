"""Compile a search plan (``storage.query``) to SQLAlchemy Core and run it.

The most selective clause drives (``res_id IN (index lookup)``); the others
are per-candidate probes (``EXISTS``, ``NOT EXISTS`` for :not and :missing) on
the composite indexes. Pages are keyset pages over the sort keys plus
``res_id``, so a page never repeats or skips a resource while others are
being written (as long as the sort keys themselves do not change).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    func,
    intersect,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement as _Col

from eolc_fhir.storage import tables as t
from eolc_fhir.storage.model import PageRow
from eolc_fhir.storage.query import (
    TABLE_OF_KIND,
    Chain,
    Clause,
    Criterion,
    Either,
    Has,
    IdTest,
    InList,
    LastUpdatedTest,
    Missing,
    Query,
    ReferenceTest,
    SortKey,
    TokenTest,
)
from eolc_fhir.storage.search_conditions import (
    LOOKUP_RANK,
    driver_index,
    lookup_rank,
    reverse_chain_drives,
    test_condition,
)

__all__ = ["PageRow", "LOOKUP_RANK", "lookup_rank", "page_statement", "search_page",
           "count_matches", "match_conditions", "match_ids", "include_keys",
           "revinclude_keys",
           "fetch_current", "Rows", "rows_of", "prefer_custom_plans",
           "wants_custom_plan", "query_conditions", "probe_conditions", "probe_id_conditions",
           "has_condition", "id_set", "reverse_chain"]

_TABLES = {table.name: table for table in t.INDEX_TABLES}
_SORT_COLUMN = {
    "token": "code", "string": "value_norm", "reference": "target_id", "date": "low_us",
    "number": "value", "quantity": "value", "uri": "value",
}
_RANGE_KINDS = ("date", "number", "quantity")
_NEUTRAL: dict[str, Any] = {"code": "", "value_norm": "", "target_id": "", "low_us": 0,
                            "high_us": 0, "value": 0}


class _Compiler:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.per_row = False  # a walked page on PostgreSQL: probes it cannot hash

    def _same(self, col: Any, rid: Any) -> ColumnElement[bool]:
        """The probe's correlation. On a walked PostgreSQL page also ``>=``: with equality
        alone PostgreSQL may answer every probe from one hashed set of all the matches
        (the whole register), where checking the few candidates a page needs is cheap."""
        same: ColumnElement[bool] = col == rid
        return and_(same, col >= rid) if self.per_row else same

    def ids(self, query: Query) -> Select[Any]:
        """``SELECT res_id`` of live resources of the query's type meeting every clause."""
        r = t.resources.alias()
        return select(r.c.res_id).where(*self.where(query, r))

    def where(self, query: Query, r: Any, *, walk: bool = False) -> list[ColumnElement[bool]]:
        """The query's conditions on alias ``r``.

        The most selective clause drives (``res_id IN (index lookup)``); the others
        are probes per candidate (``EXISTS`` on the ``ix_idx_*_probe`` indexes: resource,
        parameter and compared columns), so a broad clause such as ``status=active``
        never materialises all its rows.
        """
        driver = None if walk else driver_index(query.clauses)
        found = None if driver is None else self._live_ids(query.clauses[driver],
                                                           query.resource_type)
        conds: list[ColumnElement[bool]] = [r.c.res_type == query.resource_type]
        if found is None:
            conds.append(r.c.deleted.is_(False))
        elif self.dialect == "postgresql" and len(query.clauses) > 1 and \
                _on_ids_alone(query.clauses):
            assert driver is not None
            conds.append(self._probed_set(query, driver, found, r))
            return conds
        self.per_row = walk and self.dialect == "postgresql"
        for n, clause in enumerate(query.clauses):
            if n == driver and found is not None:
                conds.append(r.c.res_id.in_(found))
                continue
            cond = self.clause(clause, query.resource_type, r, drive=n == driver)
            if walk and self.dialect == "postgresql":
                # PostgreSQL would turn a top-level EXISTS into a join and gather every
                # match again; inside CASE it stays a per-row check, so the walk can stop.
                cond = case((cond, true()), else_=False)
            conds.append(cond)
        return conds

    def _probed_set(self, query: Query, driver: int, found: Select[Any],
                    r: Any) -> ColumnElement[bool]:
        """PostgreSQL: ``res_id IN (the driver's ids that pass every other clause)``.

        PostgreSQL gathers and sorts the whole driving set for a page anyway. Probing the
        driver's ids inside the set reads the ``resources`` row (the content) only of
        those that pass, not of every candidate. ``OFFSET 0`` keeps PostgreSQL from
        flattening the set into one join, which it may then start from a broad clause
        (all the register's codes) because it misjudges how few the driver's rows are."""
        ids = found.offset(0).subquery()
        rid = _IdOnly(ids.c.res_id)
        probes = [self.clause(c, query.resource_type, rid, drive=False)
                  for n, c in enumerate(query.clauses) if n != driver]
        passing = select(ids.c.res_id).where(*probes).offset(0)
        return r.c.res_id.in_(passing)  # type: ignore[no-any-return]

    def _live_ids(self, clause: Clause, rtype: str) -> Select[Any] | None:
        """The driving clause's ids as a SELECT of our own index rows (which exist only
        for live resources: no ``resources`` row needs reading to test ``deleted``, and
        SQLite then reads it only for the rows that pass every probe, since it tests a
        table's columns before correlated subqueries); None when the clause drives some
        other way (``_has``'s targets, a List's items) or not at all."""
        if isinstance(clause, Criterion | Missing):
            if clause.negate if isinstance(clause, Criterion) else clause.missing:
                return None
            i = _TABLES[TABLE_OF_KIND[clause.kind]].alias()
            return select(i.c.res_id).where(*self._criterion_conds(clause, rtype, i))
        if not isinstance(clause, Chain):
            return None
        if reverse_chain(clause):
            return self._reverse_set(clause, rtype) if reverse_chain_drives(clause) else None
        ref = t.idx_reference.alias()
        return select(ref.c.res_id).where(*self._chain_conds(clause, rtype, ref))

    def clause(self, clause: Clause, rtype: str, r: Any, *, drive: bool) -> ColumnElement[bool]:
        rid = r.c.res_id
        if isinstance(clause, Criterion | Missing):
            return self._criterion(clause, rtype, rid, drive)
        if isinstance(clause, IdTest):
            ids: ColumnElement[bool] = (
                rid.not_in(clause.ids) if clause.negate else rid.in_(clause.ids))
            return ids
        if isinstance(clause, LastUpdatedTest):
            col = r.c.last_updated_us
            return or_(*(test_condition(x, None, self.dialect, point=col) for x in clause.tests))
        if isinstance(clause, Chain):
            return self._chain(clause, rtype, rid, drive)
        if isinstance(clause, InList):
            return self._in_list(clause, rtype, rid)
        if isinstance(clause, Either):
            return or_(*(and_(true(), *(self.clause(c, rtype, r, drive=False) for c in branch))
                         for branch in clause.branches))
        assert isinstance(clause, Has)
        return self._has(clause, rtype, rid, drive)

    def _in_list(self, clause: InList, rtype: str, rid: Any) -> ColumnElement[bool]:
        """The List's ``item`` references (its index rows exist only while it is live)."""
        ref = t.idx_reference.alias()
        items = select(ref.c.target_id).where(
            ref.c.res_type == "List", ref.c.res_id == clause.list_id, ref.c.param == "item",
            ref.c.target_type == rtype)
        return rid.in_(items)  # type: ignore[no-any-return]

    def _criterion_conds(self, clause: Criterion | Missing, rtype: str,
                         i: Any) -> list[ColumnElement[bool]]:
        conds = [i.c.res_type == rtype, i.c.param == clause.param]
        if isinstance(clause, Criterion):
            conds.append(self._tests(clause, i))
        return conds

    def _criterion(self, clause: Criterion | Missing, rtype: str, rid: Any,
                   drive: bool) -> ColumnElement[bool]:
        if drive and (found := self._live_ids(clause, rtype)) is not None:
            return rid.in_(found)  # type: ignore[no-any-return]
        i = _TABLES[TABLE_OF_KIND[clause.kind]].alias()
        conds = self._criterion_conds(clause, rtype, i)
        negate = clause.negate if isinstance(clause, Criterion) else clause.missing
        if clause.kind in _RANGE_KINDS and self.dialect == "sqlite":
            # Without statistics SQLite probes a range by the covering (param, value, ...)
            # index, a scan of all the parameter's rows per candidate; `param || ''` keeps
            # that index out, so the probe goes by (res_type, res_id): a few rows.
            conds[1] = i.c.param.concat("") == clause.param
        probe = _exists(self._same(i.c.res_id, rid), *conds)
        return ~probe if negate else probe

    def _tests(self, clause: Criterion, i: Any) -> ColumnElement[bool]:
        """Any of the tests; several references to the same types as one ``IN`` list (an
        OR of 25 ``target_id = ?`` sends SQLite through every reference of the parameter)."""
        refs = [x for x in clause.tests if isinstance(x, ReferenceTest) and x.url is None]
        if len(refs) > 1 and len(refs) == len(clause.tests) and \
                len({x.target_types for x in refs}) == 1:
            cond = i.c.target_id.in_([x.target_id for x in refs])
            if refs[0].target_types:
                cond = and_(cond, i.c.target_type.in_(refs[0].target_types))
            return cond  # type: ignore[no-any-return]
        codes = [x for x in clause.tests if isinstance(x, TokenTest) and x.code is not None
                 and x.text is None]
        if len(codes) > 1 and len(codes) == len(clause.tests) and \
                len({(x.system, x.any_system) for x in codes}) == 1:
            # One system's codes as ``code IN (...)``: an index condition on both engines,
            # where an OR of (code, system) pairs is a filter over the parameter's rows.
            system = TokenTest(None, codes[0].system, codes[0].any_system)
            return and_(i.c.code.in_([x.code for x in codes]),
                        test_condition(system, i, self.dialect))
        return or_(*(test_condition(x, i, self.dialect) for x in clause.tests))

    def _chain(self, chain: Chain, rtype: str, rid: Any, drive: bool) -> ColumnElement[bool]:
        if drive and (found := self._live_ids(chain, rtype)) is not None:
            return rid.in_(found)  # type: ignore[no-any-return]
        ref = t.idx_reference.alias()
        if reverse_chain(chain):
            return self._chain_probe(chain, rtype, rid, ref)
        return _exists(self._same(ref.c.res_id, rid), *self._chain_conds(chain, rtype, ref))

    def _chain_conds(self, chain: Chain, rtype: str, ref: Any) -> list[ColumnElement[bool]]:
        targets = [
            and_(ref.c.target_type == q.resource_type, ref.c.target_id.in_(self.ids(q)))
            for q in chain.targets
        ]
        return [ref.c.res_type == rtype, ref.c.param == chain.param, or_(*targets)]

    def _chain_probe(self, chain: Chain, rtype: str, rid: Any, ref: Any) -> ColumnElement[bool]:
        """``patient._has:…``: per candidate, its target's reverse chain (correlated on the
        reference row's target id), never the whole set of targets that match."""
        targets = [
            and_(ref.c.target_type == q.resource_type,
                 *(self.clause(c, q.resource_type, _IdOnly(ref.c.target_id), drive=False)
                   for c in q.clauses))
            for q in chain.targets
        ]
        return _exists(self._same(ref.c.res_id, rid), ref.c.res_type == rtype,
                       ref.c.param == chain.param, or_(*targets))

    def _reverse_set(self, chain: Chain, rtype: str) -> Select[Any]:
        """Our ids whose target a matching source refers to, from the (few) sources: each
        step by the previous step's ids (on SQLite ``param || ''`` keeps it on those ids
        rather than on every reference of the parameter)."""
        ref = t.idx_reference.alias()
        targets = []
        for q in chain.targets:
            has = q.clauses[0]
            assert isinstance(has, Has)
            src = t.idx_reference.alias()
            # PostgreSQL needs no such help, and would lose its (param, ...) index by it
            param = src.c.param.concat("") if self.dialect == "sqlite" else src.c.param
            referred = select(src.c.target_id).where(
                src.c.res_type == has.source.resource_type,
                param == has.param, src.c.target_type == q.resource_type,
                src.c.res_id.in_(_source_ids(self.dialect, has.source, self)))
            targets.append(and_(ref.c.target_type == q.resource_type,
                                ref.c.target_id.in_(referred)))
        return select(ref.c.res_id).where(ref.c.res_type == rtype, ref.c.param == chain.param,
                                          or_(*targets))

    def _has(self, has: Has, rtype: str, rid: Any, drive: bool) -> ColumnElement[bool]:
        ref = t.idx_reference.alias()
        conds = [ref.c.res_type == has.source.resource_type, ref.c.param == has.param,
                 ref.c.target_type == rtype]
        if has.negate:
            return ~self._has(Has(has.param, has.source), rtype, rid, drive=False)
        if drive:
            conds.append(ref.c.res_id.in_(self.ids(has.source)))
            return rid.in_(select(ref.c.target_id).where(*conds))  # type: ignore[no-any-return]
        s = t.resources.alias()  # the referring resource, probed per candidate
        source = [s.c.res_type == has.source.resource_type, s.c.res_id == ref.c.res_id,
                  s.c.deleted.is_(False)]
        source += [self.clause(c, has.source.resource_type, s, drive=False)
                   for c in has.source.clauses]
        return _exists(self._same(ref.c.target_id, rid), *conds, _exists(*source))

    def sort_keys(self, query: Query, r: Any) -> list[tuple[ColumnElement[Any], bool]]:
        """(expression, descending) pairs; NULL-free so keyset comparisons stay simple."""
        keys: list[tuple[ColumnElement[Any], bool]] = []
        for key in query.sort:
            if key.kind is None:
                col = r.c.res_id if key.param == "_id" else r.c.last_updated_us
                keys.append((col, key.descending))
                continue
            value = self._sort_value(key, query.resource_type, r)
            neutral = _NEUTRAL[_sort_column(key)]
            keys.append((case((value.is_(None), 1), else_=0), False))  # missing values last
            keys.append((func.coalesce(value, literal(neutral)), key.descending))
        keys.append((r.c.res_id, False))
        return keys

    def _sort_value(self, key: SortKey, rtype: str, r: Any) -> ColumnElement[Any]:
        assert key.kind is not None
        i = _TABLES[TABLE_OF_KIND[key.kind]].alias()
        col = i.c[_sort_column(key)]
        agg = func.max(col) if key.descending else func.min(col)
        return (
            select(agg)
            .where(i.c.res_type == rtype, i.c.res_id == r.c.res_id, i.c.param == key.param)
            .scalar_subquery()
        )


def _on_ids_alone(clauses: Sequence[Clause]) -> bool:
    """Whether every clause can be tested knowing only a resource's id."""
    return not any(isinstance(c, LastUpdatedTest) or (
        isinstance(c, Either) and not all(_on_ids_alone(b) for b in c.branches))
        for c in clauses)


def _exists(*conds: ColumnElement[bool]) -> ColumnElement[bool]:
    """``EXISTS (SELECT 1 FROM … WHERE conds)``. Not ``SELECT *``: with it SQLite reads each
    matching table row even when an index holds every column the conditions name."""
    return select(literal_column("1")).where(*conds).exists()


def _source_ids(dialect: str, source: Query, comp: _Compiler) -> Any:
    """The source's ids straight from its index rows when it is plain tests (rows exist only
    for live resources: no ``resources`` row to read), else through ``resources``."""
    found = id_set(dialect, source)
    return found if found is not None else comp.ids(source)


def reverse_chain(chain: Chain) -> bool:
    """A chain into ``_has`` / ``_hasnot`` (``patient._has:CarePlan:subject:…``)."""
    return all(len(q.clauses) == 1 and isinstance(q.clauses[0], Has) for q in chain.targets)


def query_conditions(dialect: str, query: Query, r: Any) -> list[ColumnElement[bool]]:
    """The query's conditions on resources alias ``r``, its most selective clause driving."""
    return _Compiler(dialect).where(query, r)


def probe_conditions(dialect: str, query: Query, r: Any) -> list[ColumnElement[bool]]:
    """The query's clauses as probes of one candidate row ``r`` (no driver): for
    correlated subqueries, where a driving ``IN`` list would be the whole table."""
    comp = _Compiler(dialect)
    return [comp.clause(c, query.resource_type, r, drive=False) for c in query.clauses]


class _IdOnly:
    """Stands for a resources alias where only ``res_id`` is known (an index row's)."""

    def __init__(self, rid: Any) -> None:
        self.c = self
        self.res_id = rid


def probe_id_conditions(dialect: str, query: Query, rid: Any, *,
                        drive: bool = False) -> list[ColumnElement[bool]]:
    """The query's clauses on a resource id column (index rows exist only for live
    resources, so no ``resources`` row is needed); ``drive``: the most selective clause as
    ``rid IN (index lookup)``, the others as probes. ValueError when a clause needs the
    resources row (``_lastUpdated``)."""
    if any(isinstance(c, LastUpdatedTest) for c in query.clauses):
        raise ValueError("_lastUpdated needs the resources row")
    comp, r = _Compiler(dialect), _IdOnly(rid)
    driver = driver_index(query.clauses) if drive else None
    return [comp.clause(c, query.resource_type, r, drive=n == driver)
            for n, c in enumerate(query.clauses)]


def id_set(dialect: str, query: Query) -> Any:
    """The ids of the query's resources as set operations over whole index ranges: the
    INTERSECT of each clause's ids, minus (``NOT IN``) those of each negated clause
    (``:not``, ``:missing=true``). No probe per resource: the database scans, hashes or
    sorts each range once. None when a clause is not a plain test of one parameter."""
    if not query.clauses or not all(isinstance(c, Criterion | Missing) for c in query.clauses):
        return None
    keep: list[Select[Any]] = []
    drop: list[Select[Any]] = []
    for clause in query.clauses:
        assert isinstance(clause, Criterion | Missing)
        i = _TABLES[TABLE_OF_KIND[clause.kind]].alias()
        conds = [i.c.res_type == query.resource_type, i.c.param == clause.param]
        if isinstance(clause, Criterion):
            conds.append(or_(*(test_condition(x, i, dialect) for x in clause.tests)))
            negate = clause.negate
        else:
            negate = clause.missing
        (drop if negate else keep).append(select(i.c.res_id).where(*conds))
    if not keep:
        return None
    found = (keep[0] if len(keep) == 1 else intersect(*keep)).subquery()
    # NOT IN rather than EXCEPT: SQLite refuses a parenthesised compound SELECT inside one.
    return select(found.c.res_id).where(*(found.c.res_id.not_in(d) for d in drop))


def has_condition(dialect: str, has: Has, rtype: str, rid: Any) -> ColumnElement[bool]:
    """``rid IN (ids that a matching has.source refers to)``: one uncorrelated set, made
    once by the database however many rows ask."""
    return _Compiler(dialect)._has(has, rtype, rid, drive=True)


def _sort_column(key: SortKey) -> str:
    if key.kind == "date" and key.descending:
        return "high_us"
    return _SORT_COLUMN[key.kind or "token"]


def _after(keys: Sequence[tuple[_Col[Any], bool]], values: Sequence[Any],
           backward: bool) -> ColumnElement[bool]:
    """Rows strictly after (or before) ``values`` in the keys' order."""
    ors = []
    for n, (col, desc) in enumerate(keys):
        forward_gt = desc == backward  # ascending & forward, or descending & backward
        step = col > values[n] if forward_gt else col < values[n]
        eqs = [keys[m][0] == values[m] for m in range(n)]
        ors.append(and_(*eqs, step) if eqs else step)
    return or_(*ors) if ors else true()


def page_statement(dialect: str, query: Query, *, count: int,
                   cursor: Sequence[Any] | None = None, backward: bool = False,
                   with_content: bool = True, walk: bool = False) -> Select[Any]:
    """The SELECT for one page: (res_id, content, k0..kn) in sort order, ``count + 1`` rows
    (``walk``: no driving clause, every clause a probe of each resource in order)."""
    comp = _Compiler(dialect)
    r = t.resources.alias()
    keys = comp.sort_keys(query, r)
    labelled = [col.label(f"k{n}") for n, (col, _) in enumerate(keys)]
    content = [r.c.content] if with_content else []
    inner = select(r.c.res_id, *content, *labelled).where(
        *comp.where(query, r, walk=walk)).subquery()
    outer_keys = [(inner.c[f"k{n}"], desc) for n, (_, desc) in enumerate(keys)]
    stmt = select(inner)
    if cursor is not None:
        if len(cursor) != len(keys):
            raise ValueError("cursor does not fit this search")
        stmt = stmt.where(_after(outer_keys, cursor, backward))
    order = [(col.asc() if desc == backward else col.desc()) for col, desc in outer_keys]
    return stmt.order_by(*order).limit(count + 1)


async def search_page(conn: AsyncConnection, dialect: str, query: Query, *, count: int,
                      cursor: Sequence[Any] | None = None, backward: bool = False,
                      walk: bool = False) -> tuple[list[PageRow], bool]:
    """One page in sort order and whether more rows lie beyond it in that direction."""
    stmt = page_statement(dialect, query, count=count, cursor=cursor, backward=backward,
                          walk=walk)
    rows = list((await conn.execute(stmt)).all())
    more = len(rows) > count
    rows = rows[:count]
    if backward:
        rows.reverse()
    page = [PageRow(row[0], bytes(row[1]), tuple(row[2:])) for row in rows]
    return page, more


async def prefer_custom_plans(conn: AsyncConnection, dialect: str, query: Query) -> None:
    """On PostgreSQL, plan this transaction's searches for their actual values.

    asyncpg prepares every statement; after five runs PostgreSQL may switch to a
    generic plan, which for a search with several clauses is ten times slower
    (it cannot see that one practice's flags are few). Single-clause lookups
    keep the cheaper cached plan.
    """
    if dialect == "postgresql" and wants_custom_plan(query):
        await conn.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def wants_custom_plan(query: Query) -> bool:
    return len(query.clauses) > 1 or any(isinstance(c, Chain | Has) for c in query.clauses)


def match_conditions(dialect: str, query: Query, r: Any) -> list[ColumnElement[bool]]:
    """The query's conditions on the ``resources`` alias ``r`` (bulk export's filters)."""
    return _Compiler(dialect).where(query, r)


async def count_matches(conn: AsyncConnection, dialect: str, query: Query) -> int:
    sub = _Compiler(dialect).ids(query).subquery()
    return int((await conn.execute(select(func.count()).select_from(sub))).scalar_one())


async def match_ids(conn: AsyncConnection, dialect: str, query: Query,
                    limit: int | None = None) -> list[str]:
    stmt = _Compiler(dialect).ids(query)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [row[0] for row in await conn.execute(stmt)]


class Rows(Protocol):
    """Runs a SELECT and returns its rows: a connection, or the SQLite lean reader."""

    async def __call__(self, stmt: Select[Any]) -> Sequence[Sequence[Any]]: ...


def rows_of(conn: AsyncConnection) -> Rows:
    async def run(stmt: Select[Any]) -> Sequence[Sequence[Any]]:
        rows: Sequence[Sequence[Any]] = (await conn.execute(stmt)).all()
        return rows

    return run


async def include_keys(run: Rows, source_type: str, source_ids: Sequence[str],
                       param: str | None, target_type: str | None) -> list[tuple[str, str]]:
    """(type, id) that ``source_type`` resources refer to through ``param`` (None: any)."""
    if not source_ids:
        return []
    ref = t.idx_reference
    # `param || ''`: by the page's ids on (res_type, res_id), a few rows each; SQLite would
    # otherwise take the (param, target_id, ...) index and read every reference of the
    # parameter (all the subjects of a 100,000-person register: half a second).
    stmt = select(ref.c.target_type, ref.c.target_id).distinct().where(
        ref.c.res_type == source_type,
        ref.c.res_id.in_(list(source_ids)),
        ref.c.target_id.is_not(None),
        ref.c.param.concat("") == param if param is not None else true(),
        ref.c.target_type == target_type if target_type else ref.c.target_type.is_not(None),
    )
    return [(row[0], row[1]) for row in await run(stmt)]


async def revinclude_keys(run: Rows, source_type: str, param: str | None,
                          target_type: str, target_ids: Sequence[str]) -> list[tuple[str, str]]:
    """(type, id) of ``source_type`` resources referring to the targets through ``param``."""
    if not target_ids:
        return []
    ref = t.idx_reference
    stmt = select(ref.c.res_type, ref.c.res_id).distinct().where(
        ref.c.res_type == source_type,
        ref.c.param == param if param is not None else true(),
        ref.c.target_type == target_type,
        ref.c.target_id.in_(list(target_ids)),
    )
    return [(row[0], row[1]) for row in await run(stmt)]


async def fetch_current(run: Rows, keys: Sequence[tuple[str, str]]) -> list[tuple[str, str, bytes]]:
    """(type, id, content) of the live resources among ``keys``, in the order given.

    One ``res_type = ? AND res_id IN (...)`` per type: a primary-key range on both
    engines (SQLite scans the table for a row-value ``IN`` list).
    """
    by_type: dict[str, list[str]] = {}
    for rtype, rid in keys:
        by_type.setdefault(rtype, []).append(rid)
    r = t.resources
    found: dict[tuple[str, str], bytes] = {}
    for rtype, ids in by_type.items():
        stmt = select(r.c.res_id, r.c.content).where(
            r.c.res_type == rtype, r.c.res_id.in_(ids), r.c.deleted.is_(False))
        for row in await run(stmt):
            found[(rtype, row[0])] = bytes(row[1])
    return [(k[0], k[1], found[k]) for k in keys if k in found]
