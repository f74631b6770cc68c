"""Why one person is in or out of each population (an individual MeasureReport).

The database returns, for that person, 0 or 1 per test of every population
(``p<population>_<alternative>_<test>``); this turns them into one sentence per
population, naming the tests as the Measure wrote them.
"""

from __future__ import annotations

from eolc_fhir.storage.measure_plan import Alternative, GroupPlan, Related

__all__ = ["reasons"]


def _tests(alt: Alternative) -> list[str]:
    """What each test of the alternative asks, in the order the SQL numbers them."""
    names = []
    if alt.tests_subject:
        names.append(f"the person meets {alt.text}")
    names += [_related(rel) for rel in alt.related]
    return names or ["everyone in the population before"]


def _related(rel: Related) -> str:
    many = f"at least {rel.at_least} of " if rel.at_least > 1 else "a "
    return f"{many}{rel.text}"


def _alternative(alt: Alternative, k: int, a: int, parts: dict[str, int]) -> tuple[bool, str]:
    tests = _tests(alt)
    met = [parts.get(f"p{k}_{a}_{n}", 0) == 1 for n in range(len(tests))]
    if all(met):
        return True, "; ".join(f"has {t}" for t in tests)
    return False, "; ".join(f"lacks {t}" for t, ok in zip(tests, met, strict=True) if not ok)


def reasons(plan: GroupPlan, flags: tuple[int, ...], parts: dict[str, int],
            observed: int | None) -> list[str]:
    """One sentence per population (and the observation, for a continuous variable)."""
    out: list[str] = []
    for k, population in enumerate(plan.populations):
        if k > 0 and not flags[k - 1]:
            out.append(f"out: not in the {plan.populations[k - 1].code}")
            continue
        found = [_alternative(alt, k, a, parts) for a, alt in enumerate(population.alternatives)]
        met = [text for ok, text in found if ok]
        if flags[k] and met:
            out.append(f"in: {met[0]}")
        else:
            out.append("out: " + " | or: ".join(text for _, text in found))
    if plan.observation is not None:
        out.append(f"in: {observed} days" if observed is not None else "out: no value")
    return out
