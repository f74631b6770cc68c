"""Who may see which resource beyond scopes and roles: ownership and withdrawn consent.

- Subscriptions belong to the client that created them, and to the person
  signed in to it when a person's token created them (admin sees all).
- When a person's latest active consent-to-share Consent is a withdrawal
  (SNOMED 882941000000102), their record — every resource about them except
  the Patient itself and the consent-to-share Consents, which say why the
  rest is hidden — is visible only to the organisation (ODS code) that
  recorded each resource, and to admin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from eolc_fhir.security.compartment import is_consent_to_share, patient_of
from eolc_fhir.security.policy import can_read
from eolc_fhir.security.principal import Principal
from eolc_fhir.security.roles import OWNED_TYPES
from eolc_fhir.storage.security_repo import Origin

__all__ = ["hidden", "filter_bundle", "needs_origin", "subscription_of_status"]

LookupOrigins = Callable[[Sequence[tuple[str, str]]], Awaitable[dict[tuple[str, str], Origin]]]
_KEEP_WHOLE = ("batch-response", "transaction-response")
# Built whole by an operation that was authorized for every type it holds and applied
# ``hidden`` to the rows it read ($wishes): removing an entry here would leave a
# Composition that points at nothing, so a document is never filtered twice.
_DECIDED_BY_OPERATION = ("document",)


def needs_origin(principal: Principal | None, rtype: str, patient_id: str | None,
                 withdrawn: frozenset[str]) -> bool:
    if principal is None or principal.is_admin:
        return False
    return rtype in OWNED_TYPES or (patient_id is not None and patient_id in withdrawn
                                    and rtype != "Patient")


def hidden(principal: Principal | None, rtype: str, origin: Origin | None,
           withdrawn: frozenset[str]) -> bool:
    """Is this resource (whose origin row is ``origin``) hidden from ``principal``?"""
    if principal is None or principal.is_admin:
        return False
    if rtype in OWNED_TYPES:  # the app's, and the person's when a person made it
        return origin is None or origin.client_id != principal.client_id or \
            origin.user_id != principal.user_id
    if origin is None or origin.patient_id is None or rtype == "Patient":
        return False
    return origin.patient_id in withdrawn and origin.ods != principal.ods


async def filter_bundle(bundle: dict[str, Any], principal: Principal | None,
                        withdrawn: frozenset[str], lookup: LookupOrigins) -> bool:
    """Drop (or, in batch responses, empty) entries the principal may not see; True if changed."""
    entries = bundle.get("entry")
    if principal is None or principal.is_admin or not isinstance(entries, list) or \
            bundle.get("type") in _DECIDED_BY_OPERATION:
        return False
    keys = []
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        status_of = subscription_of_status(resource)
        if status_of is not None:
            keys.append(("Subscription", status_of))
        elif needs_origin(principal, str(resource.get("resourceType")), patient_of(resource),
                          withdrawn):
            keys.append((str(resource.get("resourceType")), str(resource.get("id"))))
    origins = await lookup(keys) if keys else {}
    kept, changed = [], False
    for entry in entries:
        if _visible(entry, principal, withdrawn, origins):
            kept.append(entry)
            continue
        changed = True
        if bundle.get("type") in _KEEP_WHOLE:
            kept.append({k: v for k, v in entry.items() if k != "resource"})
    bundle["entry"] = kept
    if changed and isinstance(bundle.get("total"), int):
        bundle["total"] = max(0, bundle["total"] - (len(entries) - len(kept)))
    return changed


def subscription_of_status(resource: dict[str, Any]) -> str | None:
    """The Subscription id a SubscriptionStatus Parameters resource describes."""
    if resource.get("resourceType") != "Parameters":
        return None
    for parameter in resource.get("parameter") or []:
        if isinstance(parameter, dict) and parameter.get("name") == "subscription":
            ref = str((parameter.get("valueReference") or {}).get("reference", ""))
            head, _, sid = ref.rpartition("/")
            if head.endswith("Subscription") and sid:
                return sid
    return None


def _visible(entry: Any, principal: Principal, withdrawn: frozenset[str],
             origins: dict[tuple[str, str], Origin]) -> bool:
    resource = entry.get("resource") if isinstance(entry, dict) else None
    if not isinstance(resource, dict):
        return True
    rtype = str(resource.get("resourceType"))
    if rtype == "OperationOutcome":
        return True
    status_of = subscription_of_status(resource)
    if status_of is not None:  # $status: as visible as the Subscription it describes
        return not hidden(principal, "Subscription", origins.get(("Subscription", status_of)),
                          withdrawn)
    if not can_read(principal, rtype):
        return False
    if is_consent_to_share(resource):
        return True  # the withdrawal itself stays visible: it says why the rest is not
    key = (rtype, str(resource.get("id")))
    if key not in origins:
        # No origin row (loaded outside a request): nobody but admin recorded it.
        return not needs_origin(principal, rtype, patient_of(resource), withdrawn)
    return not hidden(principal, rtype, origins[key], withdrawn)
