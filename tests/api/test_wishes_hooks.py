"""The access-check and audit hooks around $wishes and $everything."""

from __future__ import annotations

import httpx
import orjson
import pytest

from eolc_fhir.fhir.errors import Forbidden
from eolc_fhir.services import operation_hooks as hooks
from eolc_fhir.services.context import ServerContext
from tests.builders import NHS_NUMBER_SYSTEM, PATIENT_REF, VALID_NHS_NUMBERS, make_patient

PID = PATIENT_REF["reference"].split("/")[1]


@pytest.mark.parametrize(("operation", "role", "allowed"), [
    ("wishes", "ambulance", True), ("wishes", "care-home", True), ("wishes", "gp", True),
    ("wishes", "admin", False), ("everything", "hospice", True),
    ("everything", "ambulance", False), ("everything", "care-home", False),
])
async def test_default_role_rule(operation: str, role: str, allowed: bool) -> None:
    call = hooks.OperationCall(operation, {"role": role})
    if allowed:
        await hooks.default_check(None, call)  # type: ignore[arg-type]
    else:
        with pytest.raises(Forbidden):
            await hooks.default_check(None, call)  # type: ignore[arg-type]


@pytest.mark.engines("sqlite")
async def test_every_call_reaches_the_audit_hooks(client: httpx.AsyncClient) -> None:
    ctx: ServerContext = client.app.state.ctx  # type: ignore[attr-defined]
    seen: list[hooks.OperationCall] = []

    async def record(_ctx: ServerContext, call: hooks.OperationCall) -> None:
        seen.append(call)

    ctx.extras.setdefault("audit_hooks", []).append(record)
    await client.put(f"/Patient/{PID}", content=orjson.dumps(make_patient(id=PID)))
    ok = await client.get("/Patient/$wishes",
                          params={"identifier": f"{NHS_NUMBER_SYSTEM}|{VALID_NHS_NUMBERS[0]}"})
    missing = await client.get("/Patient/$wishes",
                               params={"identifier": f"{NHS_NUMBER_SYSTEM}|{VALID_NHS_NUMBERS[2]}"})
    everything = await client.get(f"/Patient/{PID}/$everything")
    assert (ok.status_code, missing.status_code, everything.status_code) == (200, 404, 200)
    assert [(c.operation, c.status, c.patient_ids) for c in seen] == [
        ("wishes", 200, [PID]), ("wishes", 404, []), ("everything", 200, [PID])]
    assert seen[0].warnings == ["no-first-choice-place-of-death"]


@pytest.mark.engines("sqlite")
async def test_a_registered_check_can_refuse(client: httpx.AsyncClient) -> None:
    ctx: ServerContext = client.app.state.ctx  # type: ignore[attr-defined]

    async def refuse(_ctx: ServerContext, call: hooks.OperationCall) -> None:
        raise Forbidden(f"no ${call.operation} for you")

    ctx.extras["operation_checks"] = [refuse]
    resp = await client.get(f"/Patient/{PID}/$wishes")
    assert resp.status_code == 403
    assert resp.json()["resourceType"] == "OperationOutcome"
