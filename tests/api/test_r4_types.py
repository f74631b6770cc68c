"""Only FHIR R4 (4.0.1) resource types are served and listed; R4B-only types are refused."""

from __future__ import annotations

import httpx
import pytest

from eolc_fhir.fhir.models import is_resource_type, resource_types
from eolc_fhir.fhir.r4_types import R4_RESOURCE_TYPES

pytestmark = pytest.mark.engines("sqlite")

# In fhir.resources' R4B models but not in R4 4.0.1.
R4B_ONLY = ["SubscriptionTopic", "Citation", "AdministrableProductDefinition",
            "SubscriptionStatus", "NutritionProduct"]


def test_the_r4_list_is_the_specifications() -> None:
    assert len(R4_RESOURCE_TYPES) == 146
    assert resource_types() <= R4_RESOURCE_TYPES
    assert {"Patient", "CarePlan", "Subscription", "Basic", "Media"} <= resource_types()
    assert not any(is_resource_type(name) for name in R4B_ONLY)


async def test_metadata_lists_only_r4_types(client: httpx.AsyncClient) -> None:
    statement = (await client.get("/metadata")).json()
    assert statement["fhirVersion"] == "4.0.1"
    listed = {r["type"] for r in statement["rest"][0]["resource"]}
    assert listed == set(resource_types())
    assert listed <= R4_RESOURCE_TYPES
    assert not listed & set(R4B_ONLY)


def _refused(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "not an R4 resource type" in outcome["issue"][0]["diagnostics"]


@pytest.mark.parametrize("rtype", ["SubscriptionTopic", "Citation"])
async def test_r4b_only_types_are_refused_on_every_interaction(
        client: httpx.AsyncClient, rtype: str) -> None:
    body = {"resourceType": rtype, "id": "x", "status": "active"}
    _refused(await client.get(f"/{rtype}/x"), 404)
    _refused(await client.get(f"/{rtype}"), 404)
    _refused(await client.get(f"/{rtype}", params={"_count": "1"}), 404)
    _refused(await client.get(f"/{rtype}/x/_history"), 404)
    _refused(await client.post(f"/{rtype}", json=body), 404)
    _refused(await client.put(f"/{rtype}/x", json=body), 404)
    _refused(await client.delete(f"/{rtype}/x"), 404)
    # Sent where a resource of another type is expected, or inside a Bundle.
    _refused(await client.post("/Basic", json=body), 400)
    transaction = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": body, "request": {"method": "POST", "url": rtype}}]}
    assert (await client.post("/", json=transaction)).status_code in (400, 404)
    search = await client.get("/", params={"_type": rtype})
    assert search.status_code == 400 and "not R4" in search.text

