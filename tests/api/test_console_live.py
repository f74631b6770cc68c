"""The console's person page (whole-record history, paged; "still valid?" first) and the live
board's server side (what changed in words, whose record, $events replay); httpx on one app,
plus Provenance?patient= as an API capability on both engines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson
import pytest
import pytest_asyncio

from eolc_fhir.api import console
from eolc_fhir.config import Settings
from eolc_fhir.security.demo import CONSOLE_CLIENT
from eolc_fhir.security.provenance import PATIENT_EXTENSION
from eolc_fhir.security.ws_binding import read_binding
from tests.api.module_app import engine_name, module_database
from tests.api.test_console import (
    BASE,
    PASSWORD,
    USERS,
    _browser,
    _gp_headers,
    _sign_in,
)
from tests.api.test_smart_signin import _pkce
from tests.builders import (
    ODS_SYSTEM,
    VALID_NHS_NUMBERS,
    _nhs_identifier,
    make_care_plan,
    make_cpr_flag,
    make_patient,
)
from tests.console_support import SignInForm, add_console_and_people, system_headers
from tests.security_support import FHIR, SecureApp, secure_app

__all__ = ["engine_name"]  # a fixture (module scope)

pytestmark = pytest.mark.asyncio(loop_scope="module")

P1, P2 = "live-p1", "live-p2"  # in date; past its reviews, at another practice
P3 = "live-p3"  # the one whose record the tests change, so that P1's and P2's stay put


def _of(resource: dict[str, object], pid: str) -> dict[str, object]:
    text = orjson.dumps(resource).replace(b"Patient/eolc-patient-1", f"Patient/{pid}".encode())
    return dict(orjson.loads(text))


def _record() -> list[dict[str, object]]:
    """P1's record in date; P2's CPR decision and plan past their review dates."""
    hillside = [{"identifier": {"system": ODS_SYSTEM, "value": "Y09999"}, "display": "Hillside"}]
    return [
        make_patient(id=P1),
        _of({**make_cpr_flag(), "id": "live-cpr-1"}, P1),
        _of({**make_care_plan(), "id": "live-acp-1"}, P1),
        make_patient(id=P2, identifier=[_nhs_identifier(VALID_NHS_NUMBERS[1])],
                     name=[{"family": "Okoro", "given": ["Ada"]}], generalPractitioner=hillside),
        _of({**make_cpr_flag(period={"start": "2024-01-01T10:00:00Z", "end": "2025-01-01"}),
             "id": "live-cpr-2"}, P2),
        _of({**make_care_plan(extension=[{
            "url": "https://eolc.example.org/fhir/StructureDefinition/eolc-review-date",
            "valueDate": "2025-02-01"}]), "id": "live-acp-2"}, P2),
        make_patient(id=P3, identifier=[_nhs_identifier(VALID_NHS_NUMBERS[2])]),
    ]


@pytest.fixture(scope="module")
def live_url(engine_name: str, request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from module_database(engine_name, request, tmp_path_factory, "console-live")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def secure(live_url: str, tmp_path_factory: pytest.TempPathFactory
                 ) -> AsyncIterator[SecureApp]:

    settings = Settings(database_url=live_url, base_url=BASE,
                        demo_keys_dir=Path(tmp_path_factory.mktemp("keys")))
    async with secure_app(settings) as app:
        await add_console_and_people(app, {"nurse": USERS["nurse"], "drgp": ("gp", "Y01234")})
        app.gp = await _gp_headers(app)  # type: ignore[attr-defined]
        for resource in _record():
            put = await app.http.put(f"/{resource['resourceType']}/{resource['id']}",
                                     headers=app.gp,  # type: ignore[attr-defined]
                                     content=orjson.dumps(resource))
            assert put.status_code in (200, 201), put.text
        yield app


@pytest.fixture
def gp(secure: SecureApp) -> dict[str, str]:
    """The GP system's headers (registered once per module app)."""
    return dict(secure.gp)  # type: ignore[attr-defined]


@pytest.mark.engines("sqlite", "postgresql")
async def test_provenance_by_patient_finds_every_change_to_the_record(
        secure: SecureApp, gp: dict[str, str]) -> None:
    found = await secure.http.get("/Provenance", headers=gp,
                                  params={"patient": f"Patient/{P1}", "_count": "50"})
    assert found.status_code == 200, found.text
    provenances = [e["resource"] for e in found.json()["entry"]]
    targets = {p["target"][0]["reference"].split("/_history/")[0] for p in provenances}
    assert targets == {f"Patient/{P1}", "Flag/live-cpr-1", "CarePlan/live-acp-1"}
    assert all(p["extension"] == [{"url": PATIENT_EXTENSION,
                                   "valueReference": {"reference": f"Patient/{P1}"}}]
               for p in provenances)
    other = await secure.http.get("/Provenance", headers=gp, params={"patient": P2})
    assert {e["resource"]["target"][0]["reference"].split("/")[0]
            for e in other.json()["entry"]} == {"Patient", "Flag", "CarePlan"}
    assert "live-cpr-1" not in other.text


@pytest.mark.engines("sqlite")
async def test_the_person_page_pages_the_history_of_the_whole_record(
        secure: SecureApp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "HISTORY_PAGE", 2)
    async with _browser(secure) as browser:
        await _sign_in(browser, "nurse")
        first = await browser.get(f"/console/patient/{P1}")
        assert first.status_code == 200, first.text
        html = first.text
        assert html.index("Advance care plan created") < html.index("CPR decision created")
        assert "Person&#39;s details created" not in html and "test-gp" in html
        start = html.index('?cursor=')
        older = html[html.rindex('href="', 0, start) + 6:html.index('"', start)]
        second = await browser.get(older.replace("&amp;", "&"))
    assert second.status_code == 200 and "(older changes)" in second.text
    assert "Person&#39;s details created" in second.text
    assert "CPR decision created" not in second.text
    assert f'href="/console/patient/{P1}#history">Newest changes' in second.text


async def _person_token(secure: SecureApp, username: str) -> str:
    """A person's own token with write scopes, through the code flow of the console app."""
    verifier, challenge = _pkce()
    query = {"response_type": "code", "client_id": CONSOLE_CLIENT, "aud": BASE,
             "redirect_uri": f"{BASE}/console/callback", "scope": "openid fhirUser user/*.cruds",
             "state": "st-1", "code_challenge": challenge, "code_challenge_method": "S256"}
    async with _browser(secure) as browser:
        page = await browser.get("/auth/authorize?" + urlencode(query))
        form = SignInForm()
        form.feed(page.text)
        back = await browser.post("/auth/authorize", data={
            **form.fields, "username": username, "password": PASSWORD})
        code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
        token = await browser.post("/auth/token", data={
            "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
            "client_id": CONSOLE_CLIENT, "redirect_uri": f"{BASE}/console/callback"})
    assert token.status_code == 200, token.text
    return str(token.json()["access_token"])


@pytest.mark.engines("sqlite")
async def test_the_history_names_the_person_who_made_a_change(secure: SecureApp) -> None:
    person = {"Authorization": f"Bearer {await _person_token(secure, 'drgp')}",
              "Content-Type": FHIR}
    plan = _of({**make_care_plan(), "id": "live-acp-3"}, P3)
    made = await secure.http.put("/CarePlan/live-acp-3", headers=person,
                                 content=orjson.dumps(plan))
    assert made.status_code == 201, made.text
    async with _browser(secure) as browser:
        await _sign_in(browser, "nurse")
        html = (await browser.get(f"/console/patient/{P3}")).text
    row = html[html.index("CarePlan/live-acp-3"):]
    assert row[:row.index("</tr>")].count("eolc-console, by drgp") == 1


@pytest.mark.engines("sqlite")
async def test_the_person_page_says_first_whether_it_is_still_valid(secure: SecureApp) -> None:
    async with _browser(secure) as browser:
        await _sign_in(browser, "nurse")
        valid = (await browser.get(f"/console/patient/{P1}")).text
        lapsed = (await browser.get(f"/console/patient/{P2}")).text
    for html in (valid, lapsed):
        assert html.index('id="validity"') < html.index('id="cpr"')
    assert "CPR decision:</span> in date" in valid
    assert "Advance care plan review:</span> not overdue" in valid
    assert "<strong>PAST ITS REVIEW DATE: check it still stands</strong>" in lapsed
    assert "Advance care plan review:</span> <strong>OVERDUE</strong>" in lapsed


@pytest.mark.engines("sqlite")
async def test_the_board_says_what_changed_and_whose_record_it_is(
        secure: SecureApp, gp: dict[str, str]) -> None:
    gone = _of({**make_cpr_flag(), "id": "live-cpr-gone"}, P2)
    assert (await secure.http.put("/Flag/live-cpr-gone", headers=gp,
                                  content=orjson.dumps(gone))).status_code == 201
    admin = await system_headers(secure, "test-admin", "admin")  # only an admin deletes
    assert (await secure.http.delete("/Flag/live-cpr-gone", headers=admin)).status_code \
        in (200, 204)
    focus = ["Flag/live-cpr-1", "CarePlan/live-acp-2", f"Patient/{P2}", "Flag/live-cpr-gone",
             "Flag/never-there"]
    async with _browser(secure) as browser:
        await _sign_in(browser, "nurse")
        forged = await browser.post("/console/live/about", json={"focus": focus},
                                    headers={"Origin": "http://evil"})
        bad = await browser.post("/console/live/about", json={"focus": ["Flag/x/_history/1"]},
                                 headers={"Origin": BASE})
        answer = await browser.post("/console/live/about", json={"focus": focus},
                                    headers={"Origin": BASE})
    assert forged.status_code == 401 and bad.status_code == 400
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["Flag/live-cpr-1"] == {
        "what": "CPR decision", "shown": True, "patient": P1, "name": "Margaret Hughes",
        "nhs": VALID_NHS_NUMBERS[0], "practice": "Organization/gp-practice-1",
        "practice_name": "Riverside Surgery", "deceased": False}
    assert found["CarePlan/live-acp-2"]["what"] == "Advance care plan"
    assert found[f"Patient/{P2}"]["practice"] == "Y09999"
    assert found[f"Patient/{P2}"]["practice_name"] == "Hillside (Y09999)"
    assert found["Flag/live-cpr-gone"]["what"] == "CPR decision"  # from its history
    assert found["Flag/live-cpr-gone"]["name"] == "Ada Okoro"
    assert found["Flag/never-there"] == {"what": "Flag (CPR decision or register entry)",
                                         "shown": False}


@pytest.mark.engines("sqlite")
async def test_the_board_replays_what_it_missed_with_events(
        secure: SecureApp, gp: dict[str, str]) -> None:
    async with _browser(secure) as browser:
        await _sign_in(browser, "nurse")
        token = (await browser.post("/console/live/token", headers={"Origin": BASE})).json()
        subscriptions = read_binding(secure.ctx.security.tokens.keys,
                                     token["token"]).subscriptions
        flag = _of({**make_cpr_flag(), "id": "live-cpr-3"}, P3)
        made = await secure.http.put("/Flag/live-cpr-3", headers=gp, content=orjson.dumps(flag))
        assert made.status_code == 201, made.text
        replays = [await browser.get("/console/live/events",
                                     params={"subscription": s, "since": "1"})
                   for s in subscriptions]
        refused = await browser.get("/console/live/events",
                                    params={"subscription": "../x", "since": "1"})
    assert token["expiration"]
    assert all(r.status_code == 200 for r in replays), [r.text for r in replays]
    bundles = [r.json() for r in replays]
    focused = [b for b in bundles if any(e.get("fullUrl", "").endswith("/Flag/live-cpr-3")
                                         for e in b["entry"][1:])]
    assert len(focused) == 2  # the CPR decision topic and what $wishes shows
    for bundle in focused:
        status = bundle["entry"][0]["resource"]
        kinds = [p.get("valueCode") for p in status["parameter"] if p["name"] == "type"]
        assert kinds == ["query-event"]
    assert 400 <= refused.status_code < 500
