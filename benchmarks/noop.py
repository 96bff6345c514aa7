"""The reference job of figure 3: RQ's job path and the batch's claim and acknowledgement, no rules.

Like ``jobs.sync.apply_batch`` it runs in the app context with a database
connection, claims up to ``APPLY_BATCH - 1`` delivery jobs queued behind its
own (``batches.claim_queued``) and marks the whole batch done in one write
transaction; it skips the sync rules and the appointment writes. So "apply
rate / no-op rate" is the share of the worker's time left after the rules
and the writes, not an artefact of batching on one side only.
"""
from jobs.context import job
from portal.models import DeliveryState, WebhookDelivery
from portal.pipeline.batches import APPLY_BATCH, claim_queued
from portal.sync.apply import write_transaction

ACKNOWLEDGED = "bench: no-op reference"


@job
def noop(delivery_id):
    ids = [delivery_id, *(i for i in claim_queued(APPLY_BATCH - 1) if i != delivery_id)]
    with write_transaction():
        WebhookDelivery.update(state=DeliveryState.SKIPPED, error=ACKNOWLEDGED).where(
            WebhookDelivery.id.in_(ids) & WebhookDelivery.state.in_(DeliveryState.PENDING)).execute()
    return len(ids)
