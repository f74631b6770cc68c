"""The documentation stands alone and stays true: settings, links, demo people."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from eolc_fhir.config import Settings
from eolc_fhir.demo.people import NhsNumbers, person_resources
from eolc_fhir.demo.region import build_region

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
OPERATIONS = ROOT / "docs" / "operations.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "examples" / "README.md",
         ROOT / "tests" / "data" / "README.md", ROOT / "bench" / "README.md"]
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# Engineers' notes that are not part of the repository: nothing may lean on them.
_OUTSIDE = ("DESIGN" + ".md", "DOMAIN" + ".md", "PERF-" + "FLOOR", "CONVENTIONS" + ".md",
            "../" + "shared", "/work" + "/")


def _settings_variables() -> list[str]:
    return [f"EOLC_{name.upper()}" for name in Settings.model_fields]


@pytest.mark.parametrize("page", [README, OPERATIONS], ids=lambda p: p.name)
def test_every_setting_is_listed(page: Path) -> None:
    text = page.read_text()
    missing = [v for v in _settings_variables() if f"`{v}`" not in text]
    assert not missing, f"{page.name} does not list {missing}"


def test_operations_gives_each_setting_a_row() -> None:
    rows = {m.group(1) for m in re.finditer(r"^\| `(EOLC_[A-Z_]+)` \|", OPERATIONS.read_text(),
                                              re.MULTILINE)}
    assert rows == set(_settings_variables())


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    found = set()
    for line in page.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_stay_inside_the_repository_and_resolve(page: Path) -> None:
    for target in _LINK.findall(page.read_text()):
        assert not target.startswith(("http://", "https://", "/")), (page.name, target)
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.is_relative_to(ROOT), (page.name, target)
        assert resolved.exists(), (page.name, target)
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), (page.name, target)


def test_nothing_refers_to_files_outside_the_repository() -> None:
    checked = [*PAGES, *(ROOT / "src").rglob("*.py"), *(ROOT / "tests").rglob("*.py"),
               *(ROOT / "bench").rglob("*.py"), ROOT / "pyproject.toml", ROOT / "Makefile",
               ROOT / "Dockerfile"]
    offenders = [f"{path.relative_to(ROOT)}: {word}" for path in checked
                 for word in _OUTSIDE if word in path.read_text()]
    assert not offenders


# (NHS number, facts about the person the README's table promises)
_DEMO_FACTS = {
    "9994935399": {"cpr": ["450476008"]},
    "9994643843": {"cpr": [], "lpa": True},
    "9997489411": {"cpr": ["450476008", "450476008"]},
    "9992307153": {"cpr_overdue": True},
    "9992553715": {"cpr": ["450475007"], "cpr_overdue": True, "lpa": True},
    "9999609066": {"withdrawn": True},
    "9996458865": {"died_at": "41", "first_choice": "41", "plan": True},
    "9993236144": {"died_at": "10", "first_choice": "21", "plan": False, "admissions": 5},
}


def _readme_demo_people() -> list[tuple[str, str]]:
    rows = re.findall(r"^\| (999 \d{3} \d{4}) \| ([^|]+) \|", README.read_text(), re.MULTILINE)
    return [(number.replace(" ", ""), name.strip()) for number, name in rows]


def test_the_readme_demo_people_are_those_make_run_loads() -> None:
    """make run: eolc-fhir demo --patients 200 --seed 1. Same seed, same people."""
    people = _readme_demo_people()
    assert len(people) >= 3
    numbers = NhsNumbers(1)
    index = {numbers.for_person(i): i for i in range(200)}
    region, today = build_region(1, 200), date.today()
    for number, name in people:
        assert number in index, number
        resources = person_resources(region, index[number], today, number)
        patient = resources[0]
        official = patient["name"][0]
        assert f"{' '.join(official['given'])} {official['family']}" == name
        facts = _DEMO_FACTS.get(number, {})
        cpr = [r for r in resources if r["resourceType"] == "Flag" and r["status"] == "active"
               and r["code"]["coding"][0]["code"] in ("450475007", "450476008")]
        if "cpr" in facts:
            assert sorted(f["code"]["coding"][0]["code"] for f in cpr) == facts["cpr"], name
        if facts.get("cpr_overdue"):
            assert any(date.fromisoformat(f["period"]["end"][:10]) < today for f in cpr), name
        if "lpa" in facts:
            assert any(r["resourceType"] == "RelatedPerson" for r in resources) == facts["lpa"]
        _check_outcome(resources, facts, name)
        if facts.get("withdrawn"):
            assert any(r["resourceType"] == "Consent" and "882941000000102" in str(r)
                       for r in resources), name


def _check_outcome(resources: list[dict[str, Any]], facts: dict[str, Any], name: str) -> None:
    """The dead the table names died where it says; everyone else it names is alive."""
    patient = resources[0]
    if "died_at" not in facts:
        assert "deceasedDateTime" not in patient, name
        return
    died = datetime.fromisoformat(patient["deceasedDateTime"].replace("Z", "+00:00"))
    places = {(r["code"]["coding"][0]["code"], r.get("extension", [{}])[0].get(
        "valuePositiveInt")): r["valueCodeableConcept"]["coding"][0]["code"]
        for r in resources if r["resourceType"] == "Observation"}
    actual = places["actual-place-of-death", None]
    wished = places["preferred-place-of-death", 1]
    assert (actual, wished) == (facts["died_at"], facts["first_choice"]), name
    assert any(r["resourceType"] == "CarePlan" for r in resources) == facts["plan"], name
    if "admissions" in facts:
        last = [r for r in resources if r["resourceType"] == "Encounter"
                and r["priority"]["coding"][0]["code"] == "EM" and datetime.fromisoformat(
                    r["period"]["start"].replace("Z", "+00:00")) >= died - timedelta(days=90)]
        assert len(last) == facts["admissions"], name
