"""`eolc-fhir serve --workers 2` on one PostgreSQL: both processes answer, and behave as one.

Each test holds one keep-alive connection per worker process (``pinned``: a new
connection lands on whichever process accepts it; /healthz names the process),
so "written through one, read through the other" is certain, not likely.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from eolc_fhir.cli import main as cli
from eolc_fhir.security.client_side import (
    PrivateKey,
    make_assertion,
    new_private_key,
    public_jwks,
)
from eolc_fhir.security.roles import default_scopes
from tests._pg import PgServer
from tests.builders import (
    NHS_NUMBER_SYSTEM,
    PATIENT_REF,
    VALID_NHS_NUMBERS,
    make_care_plan,
    make_consent_to_share,
    make_cpr_flag,
    make_patient,
    make_patient_full,
    make_register_flag,
)
from tests.e2e.conftest import ServerProcess, start_server
from tests.security_support import ODS_BY_ROLE

pytestmark = [pytest.mark.e2e, pytest.mark.pg]

FHIR = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
WITHDRAWAL = {"coding": [{"system": "http://snomed.info/sct", "code": "882941000000102"}]}
WISHES = {"identifier": f"{NHS_NUMBER_SYSTEM}|{VALID_NHS_NUMBERS[0]}"}


def _database(server: PgServer) -> Iterator[str]:
    name = server.create_database("eolc_template")
    try:
        yield server.url(name)
    finally:
        server.drop_database(name)


def process_of(client: httpx.Client) -> str:
    return str(client.get("/healthz").json()["process"])


def pinned(server: ServerProcess, headers: dict[str, str] | None = None,
           workers: int = 2) -> list[httpx.Client]:
    """One client per worker process, each on a connection that process accepted."""
    found: dict[str, httpx.Client] = {}
    deadline = time.monotonic() + 60  # the second worker may still be loading profiles
    while len(found) < workers:
        assert time.monotonic() < deadline, f"only {len(found)} worker(s) answered"
        client = httpx.Client(base_url=server.url, headers={**FHIR, **(headers or {})},
                              timeout=20, limits=httpx.Limits(max_connections=1))
        name = process_of(client)
        if name in found:
            client.close()
            time.sleep(0.05)
        else:
            found[name] = client
    return list(found.values())


@dataclass
class Workers:
    server: ServerProcess
    keys: dict[str, PrivateKey]

    def token(self, client_id: str, scope: str) -> str:
        url = f"{self.server.url}/auth/token"
        answer = httpx.post(url, data={
            "grant_type": "client_credentials", "scope": scope,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": make_assertion(client_id, self.keys[client_id], url)})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])


def _register(url: str, folder: Path, client_id: str, role: str, *extra: str) -> PrivateKey:
    key = new_private_key()
    jwks = folder / f"{client_id}.jwks.json"
    jwks.write_text(json.dumps(public_jwks(key)))
    assert cli(["clients", "add", "--client-id", client_id, "--name", client_id, "--ods",
                ODS_BY_ROLE[role], "--role", role, "--jwks-file", str(jwks), *extra,
                "--database-url", url]) == 0
    return key


@pytest.fixture(scope="module")
def workers(_pg_template: PgServer, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Workers]:
    """One server for the tests here (a start of two workers takes 10-15 s on this
    machine): a GP system, and an ambulance service limited to 60 requests a minute."""
    folder = tmp_path_factory.mktemp("workers")
    for url in _database(_pg_template):
        keys = {"gp": _register(url, folder, "gp", "gp"),
                "crews": _register(url, folder, "crews", "ambulance", "--rate-limit", "60"),
                "crew-2": _register(url, folder, "crew-2", "ambulance")}
        server = start_server(url, folder, "--workers", "2",
                              env={"EOLC_RATE_LIMIT_SYNC_SECONDS": "0.1"})
        try:
            yield Workers(server, keys)
        finally:
            server.stop()


@pytest.fixture
def two_workers(workers: Workers) -> Iterator[list[httpx.Client]]:
    """A GP system's client on each worker."""
    clients: list[httpx.Client] = []
    try:
        token = workers.token("gp", default_scopes("gp"))
        clients = pinned(workers.server, {"Authorization": f"Bearer {token}"})
        yield clients
    finally:
        for client in clients:
            client.close()


def test_two_workers_answer_on_one_port(two_workers: list[httpx.Client]) -> None:
    a, b = two_workers
    assert process_of(a) != process_of(b)
    assert a.get("/readyz").status_code == b.get("/readyz").status_code == 200


def test_a_next_link_works_whichever_worker_answers(two_workers: list[httpx.Client]) -> None:
    a, b = two_workers
    for i in range(5):
        assert a.put(f"/Flag/f{i}", json={**make_register_flag(), "id": f"f{i}"}
                     ).status_code == 201
    page = a.get("/Flag", params={"_count": 2, "_sort": "-_lastUpdated"}).json()
    seen = [e["resource"]["id"] for e in page["entry"]]
    for client in (b, a):  # page 2 from the other worker, page 3 from the first again
        nxt = next(link["url"] for link in page["link"] if link["relation"] == "next")
        page = client.get(httpx.URL(nxt).raw_path.decode()).json()
        seen += [e["resource"]["id"] for e in page["entry"]]
    assert seen == [f"f{i}" for i in reversed(range(5))]
    assert process_of(a) != process_of(b)  # still one connection to each


def test_a_write_is_never_stale_in_the_other_worker_s_wishes(
        two_workers: list[httpx.Client]) -> None:
    a, b = two_workers
    pid = PATIENT_REF["reference"].split("/")[1]
    assert a.put(f"/Patient/{pid}", json={**make_patient(), "id": pid}).status_code == 201
    assert a.put("/Flag/reg", json={**make_register_flag(), "id": "reg"}).status_code == 201
    for i in range(12):
        writer, reader = (a, b) if i % 2 == 0 else (b, a)
        reader.get("/Patient/$wishes", params=WISHES)  # the reader keeps the old document
        wish = f"wish number {i}"
        plan = {**make_care_plan(note=[{"text": wish}]), "id": "acp"}
        assert writer.put("/CarePlan/acp", json=plan).status_code in (200, 201)
        answer = reader.get("/Patient/$wishes", params=WISHES)
        assert answer.status_code == 200 and wish in answer.text, i
    assert process_of(a) != process_of(b)


def test_a_client_s_rate_limit_holds_across_workers(workers: Workers) -> None:
    token = workers.token("crews", "system/Flag.rs")
    clients = pinned(workers.server, {"Authorization": f"Bearer {token}"})
    try:
        refusals: list[httpx.Response] = []
        accepted = [0, 0]

        def crew(n: int) -> None:  # 40 requests/s to each worker for 3 s
            for _ in range(120):
                answer = clients[n].get("/Flag/none")
                if answer.status_code == 429:
                    refusals.append(answer)
                else:
                    accepted[n] += 1
                time.sleep(0.025)

        threads = [threading.Thread(target=crew, args=(n,)) for n in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for client in clients:
            client.close()
    # Without sharing each worker would accept 60 (120 in all). Shared, the bound is the
    # limit plus what the other worker accepts in two sync intervals (0.2 s: ~8 here);
    # the margin is for a busy machine delaying a sync.
    assert 60 <= sum(accepted) <= 60 + 20, accepted
    assert min(accepted) > 0  # both workers served the client
    refused = refusals[0]
    outcome: dict[str, Any] = orjson.loads(refused.content)
    assert outcome["resourceType"] == "OperationOutcome"
    assert 1 <= int(refused.headers["Retry-After"]) <= 10


def test_a_withdrawal_through_one_worker_applies_at_once_in_the_other_s_wishes(
        workers: Workers, two_workers: list[httpx.Client]) -> None:
    gp = two_workers[0]
    token = workers.token("crew-2", default_scopes("ambulance"))
    crews = {process_of(c): c for c in pinned(workers.server,
                                              {"Authorization": f"Bearer {token}"})}
    crew = crews.pop(process_of(gp))  # on the GP's worker: closed below
    other = next(iter(crews.values()))  # the other worker
    try:
        number, ref = VALID_NHS_NUMBERS[1], {"reference": "Patient/p-withdraws"}
        patient = {**make_patient_full(), "id": "p-withdraws"}  # NHS number [1]
        assert gp.put("/Patient/p-withdraws", json=patient).status_code == 201
        assert gp.post("/Flag", json=make_cpr_flag(subject=ref)).status_code == 201
        query = {"identifier": f"{NHS_NUMBER_SYSTEM}|{number}"}

        def kinds() -> list[str]:
            answer = other.get("/Patient/$wishes", params=query)
            assert answer.status_code == 200, answer.text
            return [e["resource"]["resourceType"] for e in answer.json()["entry"]]

        assert "Flag" in kinds()  # shared, and now known to the other worker
        withdrawal = make_consent_to_share(patient=ref, category=[WITHDRAWAL])
        assert gp.post("/Consent", json=withdrawal).status_code == 201
        assert "Flag" not in kinds()  # at once, not after the 2 s consent cache
    finally:
        crew.close()
        other.close()
