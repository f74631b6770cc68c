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

from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.subscriptions.status import write_resource_status
from eolc_fhir.storage.subscription_repo import LIVE

__all__ = ["switch_off_ownerless", "OWNERLESS_REASON"]

log = logging.getLogger("eolc_fhir.subscriptions")

OWNERLESS_REASON = ("switched off at start: created while authentication was off, so no "
                    "client owns it; an authenticated client must create it again")


async def switch_off_ownerless(ctx: ServerContext) -> list[str]:
    """Switch every live Subscription without an owning client off; their ids."""
    async with ctx.db.unit_of_work(write=True) as uow:
        subscriptions = uow.subscriptions
        live = [row.sub_id for row in await subscriptions.list() if row.status in LIVE]
        origins = await uow.security.origins(
            [("Subscription", sub_id) for sub_id in live])
        ownerless = [sub_id for sub_id in live
                     if getattr(origins.get(("Subscription", sub_id)), "client_id", None) is None]
        for sub_id in ownerless:
            await subscriptions.switch_off(sub_id, OWNERLESS_REASON)
            await write_resource_status(ctx, uow, sub_id, "off", OWNERLESS_REASON)
    if ownerless:
        log.warning("authentication is on: %d subscription(s) without an owning client "
                    "(created with --insecure-dev or outside a request) switched off, "
                    "nothing will be sent to them: %s", len(ownerless), ", ".join(ownerless))
    return ownerless
