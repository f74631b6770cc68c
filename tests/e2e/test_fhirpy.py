"""A real third-party FHIR client (fhirpy) drives a real uvicorn server."""

from __future__ import annotations

import httpx
import pytest
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import ResourceNotFound

from tests.builders_basic import NHS, patient
from tests.e2e.conftest import ServerProcess

pytestmark = pytest.mark.usefixtures("engine_name")


async def test_fhirpy_create_read_search_update_delete(server: ServerProcess) -> None:
    client = AsyncFHIRClient(server.url, extra_headers={"Content-Type": "application/fhir+json"})
    created = client.resource("Patient", **patient(nhs="9000000009"))
    await created.save()
    assert created.id and created["meta"]["versionId"] == "1"

    fetched = await client.reference("Patient", created.id).to_resource()
    assert fetched["name"][0]["family"] == "Example"

    by_id = await client.resources("Patient").search(_id=created.id).fetch()
    assert [p.id for p in by_id] == [created.id]
    by_nhs = await client.resources("Patient").search(identifier=f"{NHS}|9000000009").fetch()
    assert [p.id for p in by_nhs] == [created.id]
    # count() sends _totalMethod, which R4 does not define: ignored, not refused
    assert await client.resources("Patient").search(identifier=f"{NHS}|9000000009").count() == 1

    fetched["active"] = False
    await fetched.save()
    assert fetched["meta"]["versionId"] == "2"
    await fetched.refresh()  # sends If-None-Match with its version: a 304 keeps it as is
    assert fetched["active"] is False

    # version check: fhirpy has no If-Match helper, so send it with the same payload by hand
    async with httpx.AsyncClient(base_url=server.url) as http:
        body = {**fetched.serialize(), "active": True}
        headers = {"Content-Type": "application/fhir+json", "If-Match": 'W/"1"'}
        stale = await http.put(f"/Patient/{created.id}", json=body, headers=headers)
        assert stale.status_code == 412
        headers["If-Match"] = 'W/"2"'
        fresh = await http.put(f"/Patient/{created.id}", json=body, headers=headers)
        assert fresh.status_code == 200
    await fetched.refresh()
    assert fetched["active"] is True and fetched["meta"]["versionId"] == "3"

    await fetched.delete()
    with pytest.raises(ResourceNotFound):
        await client.reference("Patient", created.id).to_resource()
