"""SQL conditions for one plan test, and how selective a clause looks.

Each test's SQL mirrors ``search/matcher.py`` line for line: the property test
holds the two to the same answers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, or_, true

from eolc_fhir.storage.query import (
    Chain,
    Clause,
    Criterion,
    Either,
    Has,
    IdTest,
    InList,
    LastUpdatedTest,
    Missing,
    QuantityTest,
    Query,
    RangeTest,
    ReferenceTest,
    StringTest,
    Test,
    TokenTest,
    UriTest,
)

__all__ = ["test_condition", "lookup_rank", "driver_index", "LOOKUP_RANK",
           "reverse_chain_drives"]


_LIKE_ESCAPE = "\\"
_TOP = "\U0010ffff"  # sorts after every character: v <= x < v + _TOP is "x starts with v"


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _prefix(col: Any, value: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":  # LIKE 'v%' uses the text_pattern_ops index
        return col.like(_like(value) + "%", escape=_LIKE_ESCAPE)  # type: ignore[no-any-return]
    return and_(col >= value, col < value + _TOP)  # binary collation: an index range


def test_condition(test: Test, i: Any, dialect: str,
                   point: Any = None) -> ColumnElement[bool]:
    """One plan test against the columns of index table alias ``i``."""
    if isinstance(test, TokenTest):
        return _token(test, i, dialect)
    if isinstance(test, StringTest):
        if test.mode == "exact":
            return i.c.value_exact == test.value  # type: ignore[no-any-return]
        if test.mode in ("contains", "suffix"):
            pattern = "%" + _like(test.value) + ("%" if test.mode == "contains" else "")
            return i.c.value_norm.like(pattern, escape=_LIKE_ESCAPE)  # type: ignore[no-any-return]
        return _prefix(i.c.value_norm, test.value, dialect)
    if isinstance(test, ReferenceTest):
        if test.url is not None:
            return i.c.url == test.url  # type: ignore[no-any-return]
        cond = i.c.target_id == test.target_id
        if test.target_types:
            cond = and_(cond, i.c.target_type.in_(test.target_types))
        return cond  # type: ignore[no-any-return]
    if isinstance(test, RangeTest):
        if point is not None:
            return _date(test, point, point)
        if "low_us" in i.c:
            return _date(test, i.c.low_us, i.c.high_us)
        return _number(test, i.c.value)
    if isinstance(test, QuantityTest):
        conds = [_number(test.range, i.c.value)]
        if test.code is not None:
            conds.append(i.c.code == test.code)
        if test.system is not None:
            conds.append(i.c.system == test.system)
        return and_(*conds)
    assert isinstance(test, UriTest)
    if test.mode == "below":
        return _prefix(i.c.value, test.value, dialect)
    if test.mode == "above":  # the stored uri is a prefix of the value
        return literal(test.value).like(
            func.replace(func.replace(i.c.value, "%", "\\%"), "_", "\\_") + "%",
            escape=_LIKE_ESCAPE)
    return i.c.value == test.value  # type: ignore[no-any-return]


def _token(test: TokenTest, i: Any, dialect: str) -> ColumnElement[bool]:
    if test.text is not None:
        return _prefix(i.c.text, test.text, dialect)
    conds = []
    if test.code is not None:
        conds.append(i.c.code == test.code)
    if not test.any_system:
        conds.append(i.c.system.is_(None) if test.system is None else i.c.system == test.system)
    return and_(*conds) if conds else true()


def _date(test: RangeTest, low: Any, high: Any) -> ColumnElement[bool]:
    p, q = int(test.low), int(test.high)
    contained = and_(low >= p, high <= q)
    by_op: dict[str, Callable[[], ColumnElement[bool]]] = {
        "eq": lambda: contained,
        "ne": lambda: ~contained,
        "gt": lambda: high > q,
        "lt": lambda: low < p,
        "ge": lambda: or_(high > q, contained),
        "le": lambda: or_(low < p, contained),
        "sa": lambda: low > q,
        "eb": lambda: high < p,
        "ap": lambda: and_(low <= q, high >= p),
    }
    return by_op[test.op]()


def _number(test: RangeTest, value: Any) -> ColumnElement[bool]:
    op, v = test.op, test.value
    if op == "eq":
        return and_(value >= test.low, value < test.high)
    if op == "ne":
        return or_(value < test.low, value >= test.high)
    if op in ("gt", "sa"):
        return value > v  # type: ignore[no-any-return]
    if op in ("lt", "eb"):
        return value < v  # type: ignore[no-any-return]
    if op == "ge":
        return value >= v  # type: ignore[no-any-return]
    if op == "le":
        return value <= v  # type: ignore[no-any-return]
    return and_(value >= test.low, value <= test.high)


_RANK_OF_KIND = {"reference": 10, "uri": 30, "string": 25, "token": 40, "date": 50,
                 "number": 50, "quantity": 50}
_NO_DRIVER = 100


def _rank(clause: Clause) -> int:
    """Smaller is more selective (a guess from the clause's form, not statistics)."""
    if isinstance(clause, IdTest):
        return _NO_DRIVER if clause.negate else 0
    if isinstance(clause, Missing):
        return _NO_DRIVER if clause.missing else 80
    if isinstance(clause, Chain):
        return _chain_rank(clause)
    if isinstance(clause, Has):
        return _NO_DRIVER if clause.negate else 45
    if isinstance(clause, InList):
        return 12
    if isinstance(clause, Either):
        return _NO_DRIVER
    if isinstance(clause, LastUpdatedTest):
        return 55
    if clause.negate:
        return _NO_DRIVER
    if clause.kind == "token" and (clause.param in ("identifier", "_id")
                                   or clause.param.endswith(":identifier")):
        return 5
    if clause.kind == "text":
        return 70
    if clause.kind == "string" and all(
            isinstance(x, StringTest) and x.mode == "contains" for x in clause.tests):
        return 60
    return _RANK_OF_KIND.get(clause.kind, 50)


_RANGE_KINDS = ("date", "number", "quantity")


def reverse_chain_drives(chain: Chain) -> bool:
    """A chain into ``_has`` whose condition is a range (``review-date=lt…``: plans past
    their review) drives from the few resources it finds; other reverse chains (a plan of
    any kind: half the register) are probed per candidate."""
    return all(len(q.clauses) == 1 and isinstance(has := q.clauses[0], Has) and not has.negate
               and len(has.source.clauses) == 1
               and isinstance(inner := has.source.clauses[0], Criterion)
               and inner.kind in _RANGE_KINDS and not inner.negate
               for q in chain.targets)


def _chain_rank(chain: Chain) -> int:
    into_has = [q.clauses[0] for q in chain.targets
                if len(q.clauses) == 1 and isinstance(q.clauses[0], Has)]
    if len(into_has) != len(chain.targets) or reverse_chain_drives(chain):
        return 15
    return 60


LOOKUP_RANK = 10  # identifier, _id and reference lookups: a handful of rows


def lookup_rank(query: Query) -> int:
    """How selective the query's best clause looks (<= LOOKUP_RANK: a lookup)."""
    return min((_rank(c) for c in query.clauses), default=_NO_DRIVER)


def driver_index(clauses: Sequence[Clause]) -> int | None:
    ranked = [(_rank(c), n) for n, c in enumerate(clauses)]
    best = min(ranked, default=(_NO_DRIVER, -1))
    return best[1] if best[0] < _NO_DRIVER else None
