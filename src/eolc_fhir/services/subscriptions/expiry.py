"""``Subscription.end``: a subscription past it is switched off and gets nothing more.

Checked where it matters: at a write (lifecycle.py: an ``end`` already past is stored
``off``), by the dispatcher before each delivery, and by its sweep (every poll), which
switches off those whose end passed while nothing was due for them.
"""

from __future__ import annotations

import logging

from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.subscriptions.lifecycle import ENDED
from eolc_fhir.services.subscriptions.status import write_resource_status
from eolc_fhir.storage.unit_of_work import UnitOfWork
from eolc_fhir.subscriptions.spec import SubscriptionSpec, spec_from_json

__all__ = ["ended", "switch_off_ended", "sweep_ended"]

log = logging.getLogger("eolc_fhir.subscriptions")


def ended(spec: SubscriptionSpec, now_us: int) -> bool:
    return spec.end_us is not None and spec.end_us <= now_us


async def switch_off_ended(ctx: ServerContext, uow: UnitOfWork, sub_id: str) -> None:
    """Status ``off`` in the delivery state and in a new version of the Subscription."""
    await uow.subscriptions.switch_off(sub_id, ENDED)
    await write_resource_status(ctx, uow, sub_id, "off", ENDED)
    log.info("subscription %s: end reached, switched off", sub_id)


async def sweep_ended(ctx: ServerContext, uow: UnitOfWork, now_us: int) -> list[str]:
    """Switch off every live subscription whose end has passed; their ids."""
    done: list[str] = []
    for sub_id, text in await uow.subscriptions.live_with_end():
        if ended(spec_from_json(text), now_us):
            await switch_off_ended(ctx, uow, sub_id)
            done.append(sub_id)
    return done
