"""At a start with authentication on, Subscriptions that no client owns are switched off.

A Subscription belongs to the client that created it (its ``security_origin``
row). One created with ``--insecure-dev``, or written outside any request,
has no owner: no authenticated client chose its endpoint, and none may see,
change or delete it (only admin). Left live, it would go on sending
notifications — ``full-resource`` ones carry patient data — after the server
restarts with authentication on. So the start switches such Subscriptions
off (status ``off``, the reason in ``Subscription.error``) before the
dispatcher runs, and logs how many and their ids. An authenticated client
that wants the feed creates the Subscription again.
"""

from __future__ import annotations

import logging

from eolc_fhir.security.audience import view_text
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.subscriptions.status import write_resource_status
from eolc_fhir.storage.security_repo import Origin
from eolc_fhir.storage.subscription_repo import LIVE
from eolc_fhir.storage.unit_of_work import UnitOfWork

__all__ = ["switch_off_ownerless", "OWNERLESS_REASON"]

log = logging.getLogger("eolc_fhir.subscriptions")

OWNERLESS_REASON = ("switched off at start: created while authentication was off, so no "
                    "client owns it; an authenticated client must create it again")


async def switch_off_ownerless(ctx: ServerContext) -> list[str]:
    """Switch every live Subscription without an owning client off; their ids. Those with
    an owner but no owner's view kept (created before views were) get their client's."""
    async with ctx.db.unit_of_work(write=True) as uow:
        subscriptions = uow.subscriptions
        rows = [row for row in await subscriptions.list() if row.status in LIVE]
        live = [row.sub_id for row in rows]
        origins = await uow.security.origins(
            [("Subscription", sub_id) for sub_id in live])
        ownerless = [sub_id for sub_id in live
                     if getattr(origins.get(("Subscription", sub_id)), "client_id", None) is None]
        for sub_id in ownerless:
            await subscriptions.switch_off(sub_id, OWNERLESS_REASON)
            await write_resource_status(ctx, uow, sub_id, "off", OWNERLESS_REASON)
        await _keep_views(uow, [r.sub_id for r in rows if r.owner is None
                                and r.sub_id not in ownerless], origins)
    if ownerless:
        log.warning("authentication is on: %d subscription(s) without an owning client "
                    "(created with --insecure-dev or outside a request) switched off, "
                    "nothing will be sent to them: %s", len(ownerless), ", ".join(ownerless))
    return ownerless


async def _keep_views(uow: UnitOfWork, sub_ids: list[str],
                      origins: dict[tuple[str, str], Origin]) -> None:
    """The owner's view of Subscriptions made before it was kept: their client's role and
    organisation (notifications are then narrowed as the client's reads are). A client no
    longer registered leaves it as it was: what its Subscriptions get is not decided here."""
    for sub_id in sub_ids:
        origin = origins[("Subscription", sub_id)]
        client = await uow.security.get_client(str(origin.client_id))
        if client is None:
            continue
        view = view_text(client.role, origin.ods or "", person=origin.user_id is not None)
        await uow.subscriptions.set_owner(sub_id, view)
