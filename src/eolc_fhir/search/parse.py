"""Turn FHIR search parameters (name, value) into a ``Query`` plan and result controls."""

from __future__ import annotations

from dataclasses import dataclass, field

from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.search import criteria as cr
from eolc_fhir.search.composite_query import composite_clause
from eolc_fhir.search.controls import (
    DEFAULT_COUNT,
    MAX_COUNT,
    RESULT_PARAMS,
    Controls,
    parse_controls,
)
from eolc_fhir.search.extract import identifier_param
from eolc_fhir.search.filter import parse_filter
from eolc_fhir.search.fulltext import TEXT_PARAMS, text_criterion
from eolc_fhir.search.modifiers import TERMINOLOGY_MODIFIERS, of_type_clause, terminology_clause
from eolc_fhir.search.registry import SearchParam, SearchRegistry
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
    Query,
    Test,
)

__all__ = ["ParsedSearch", "parse_search", "parse_clause", "UnknownParameter"]

_MODIFIERS = {
    "token": {"not", "text", "missing", "in", "not-in", "below", "above", "of-type"},
    "string": {"exact", "contains", "missing"},
    "reference": {"missing", "identifier"},
    "date": {"missing"},
    "number": {"missing"},
    "quantity": {"missing"},
    "uri": {"missing", "below", "above"},
}


# _hasnot is ours: the negation of _has ("no such resource refers to this one"),
# which R4 search cannot say otherwise.
HAS_PREFIXES = ("_has:", "_hasnot:")


class UnknownParameter(InvalidRequest):
    """A parameter this server does not know for the type (ignored when lenient)."""


@dataclass
class ParsedSearch:
    query: Query
    controls: Controls
    used: list[tuple[str, str]] = field(default_factory=list)  # for the self link
    ignored: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Context:
    registry: SearchRegistry
    base_url: str


def parse_search(registry: SearchRegistry, resource_type: str, params: list[tuple[str, str]],
                 *, lenient: bool = False, base_url: str = "",
                 page_size: tuple[int, int] = (DEFAULT_COUNT, MAX_COUNT)) -> ParsedSearch:
    """Plan a type-level search; unknown parameters raise unless ``lenient``."""
    ctx = _Context(registry, base_url)
    clauses: list[Clause] = []
    result: list[tuple[str, str]] = []
    parsed = ParsedSearch(Query(resource_type), Controls())
    for name, value in params:
        if name.split(":")[0] in RESULT_PARAMS:
            result.append((name, value))
            parsed.used.append((name, value))
            continue
        try:
            clauses.append(parse_clause(ctx, resource_type, name, value))
        except UnknownParameter:
            if not lenient:
                raise
            parsed.ignored.append(name)
            continue
        parsed.used.append((name, value))
    parsed.controls = parse_controls(registry, resource_type, result,
                                     default_count=page_size[0], max_count=page_size[1])
    parsed.query = Query(resource_type, tuple(clauses), parsed.controls.sort)
    return parsed


def _lookup(ctx: _Context, resource_type: str, code: str) -> SearchParam:
    param = ctx.registry.get(resource_type, code)
    if param is None:
        raise UnknownParameter(f"unknown search parameter {code!r} for {resource_type}",
                               code="not-supported")
    return param


def parse_clause(ctx: _Context | SearchRegistry, resource_type: str, name: str,
                 value: str) -> Clause:
    """One ``name=value`` pair (chains and ``_has`` included) as a plan clause."""
    if isinstance(ctx, SearchRegistry):
        ctx = _Context(ctx, "")
    if name.startswith(HAS_PREFIXES):
        return _has(ctx, resource_type, name, value)
    if "." in name:
        return _chain(ctx, resource_type, name, value)
    code, _, modifier = name.partition(":")
    special = _special(ctx, resource_type, code, modifier, value)
    if special is not None:
        return special
    param = _lookup(ctx, resource_type, code)
    if modifier == "missing":
        return Missing(param.kind, code, _bool(value, name))
    if code == "_id":
        return IdTest(tuple(cr.split_values(value)), negate=modifier == "not")
    if code == "_lastUpdated":
        return LastUpdatedTest(tuple(cr.date_test(v) for v in cr.split_values(value)))
    _check_modifier(param, modifier, name)
    if param.kind == "reference" and modifier == "identifier":
        ident_tests = tuple(cr.token_test(v) for v in cr.split_values(value))
        return Criterion("token", identifier_param(code), ident_tests)
    if modifier in TERMINOLOGY_MODIFIERS and param.kind == "token":
        return terminology_clause(ctx.registry.codes, code, modifier, cr.split_values(value))
    if modifier == "of-type":
        return of_type_clause(code, cr.split_values(value))
    tests = tuple(_test(ctx, param, modifier, v) for v in cr.split_values(value))
    return Criterion(param.kind, code, tests, negate=modifier == "not")


def _special(ctx: _Context, resource_type: str, code: str, modifier: str,
             value: str) -> Clause | None:
    """_text, _content, _list, _filter and composite parameters; None for the others."""
    composite = ctx.registry.composite(resource_type, code)
    if code not in (*TEXT_PARAMS, "_list", "_filter") and composite is None:
        return None
    if modifier:
        raise InvalidRequest(f"unsupported modifier in {code}:{modifier}", code="not-supported")
    if composite is not None:
        return composite_clause(composite, value)
    if code in TEXT_PARAMS:
        return text_criterion(code, value)
    if code == "_list":
        ids = [v for v in cr.split_values(value) if v]
        if not ids:
            raise InvalidRequest("_list needs the id of a List", expression="_list")
        if any(i.startswith("$") for i in ids):
            raise InvalidRequest("_list: functional lists ($current-problems, ...) are not "
                                 "supported; give the id of a List", code="not-supported",
                                 expression="_list")
        if len(ids) == 1:
            return InList(ids[0])
        return Either(tuple((InList(i),) for i in ids))
    return _filter(ctx, resource_type, value)


def _filter(ctx: _Context, resource_type: str, text: str) -> Clause:
    def kind_of(name: str) -> str:
        param = ctx.registry.get(resource_type, name.split(":")[0])
        if param is None:
            raise InvalidRequest(f"_filter: unknown search parameter {name!r} for "
                                 f"{resource_type}", code="not-supported", expression="_filter")
        return param.kind

    def clause_of(name: str, value: str) -> Clause:
        kind_of(name)
        return parse_clause(ctx, resource_type, name, value)

    clauses = parse_filter(text, clause_of, kind_of)
    return clauses[0] if len(clauses) == 1 else Either((clauses,))


def _check_modifier(param: SearchParam, modifier: str, name: str) -> None:
    if not modifier or modifier in _MODIFIERS[param.kind]:
        return
    if param.kind == "reference" and modifier[:1].isupper():
        if param.targets and modifier not in param.targets:
            raise InvalidRequest(f"{name}: {modifier} is not a target of {param.code}")
        return
    raise InvalidRequest(f"unsupported modifier in {name!r}", code="not-supported")


def _test(ctx: _Context, param: SearchParam, modifier: str, value: str) -> Test:
    if value == "":
        raise InvalidRequest(f"empty value for {param.code!r}")
    kind = param.kind
    if kind == "token":
        return cr.token_test(value, text=modifier == "text")
    if kind == "string":
        return cr.string_test(value, modifier)
    if kind == "reference":
        return cr.reference_test(value, modifier or None, ctx.base_url)
    if kind == "date":
        return cr.date_test(value)
    if kind == "number":
        return cr.number_test(value)
    if kind == "quantity":
        return cr.quantity_test(value)
    return cr.uri_test(value, modifier or None)


def _bool(value: str, name: str) -> bool:
    if value not in ("true", "false"):
        raise InvalidRequest(f"{name} takes true or false")
    return value == "true"


def _chain(ctx: _Context, resource_type: str, name: str, value: str) -> Chain:
    head, _, rest = name.partition(".")
    code, _, type_modifier = head.partition(":")
    param = _lookup(ctx, resource_type, code)
    if param.kind != "reference":
        raise InvalidRequest(f"{code!r} is not a reference parameter; it cannot be chained")
    next_code = rest.split(".")[0].split(":")[0]
    if rest.startswith(HAS_PREFIXES):  # a reverse chain from the target: `patient._has:…`
        return _chain_has(ctx, param, code, type_modifier, rest, value)
    if type_modifier:
        candidates = [type_modifier]
    elif param.targets:
        candidates = list(param.targets)
    else:
        candidates = ctx.registry.types_with(next_code)
    targets = []
    for target in candidates:
        if ctx.registry.get(target, next_code) is None:
            continue
        targets.append(Query(target, (parse_clause(ctx, target, rest, value),)))
    if not targets:
        raise UnknownParameter(f"no target of {resource_type}.{code} has a parameter "
                               f"{next_code!r}", code="not-supported")
    return Chain(code, tuple(targets))


def _chain_has(ctx: _Context, param: SearchParam, code: str, type_modifier: str, rest: str,
               value: str) -> Chain:
    candidates = [type_modifier] if type_modifier else list(param.targets)
    if len(candidates) != 1:
        raise InvalidRequest(f"{code}.{rest.split(':')[0]}: name the target type "
                             f"({code}:[type]) to follow a reverse chain from it")
    target = candidates[0]
    return Chain(code, (Query(target, (_has(ctx, target, rest, value),)),))


def _has(ctx: _Context, resource_type: str, name: str, value: str) -> Has:
    parts = name.split(":", 3)
    if len(parts) != 4 or not all(parts[1:]):
        raise InvalidRequest(f"invalid {parts[0]} parameter {name!r}")
    head, source_type, ref_code, rest = parts
    param = _lookup(ctx, source_type, ref_code) if ctx.registry.params_for(source_type) else None
    if param is None or param.kind != "reference":
        raise UnknownParameter(f"{source_type}.{ref_code} is not a reference parameter")
    if param.targets and resource_type not in param.targets:
        raise InvalidRequest(f"{source_type}.{ref_code} cannot refer to {resource_type}")
    source = Query(source_type, (parse_clause(ctx, source_type, rest, value),))
    return Has(ref_code, source, negate=head == "_hasnot")
