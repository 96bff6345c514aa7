"""Inbox retention: finished webhook deliveries are pruned after ``INBOX_RETENTION_DAYS`` (issue 12).

Pruned: deliveries applied, refused (rejected), recognised as duplicates or
skipped, received more than the retention ago. Kept whatever their age:
deliveries still pending (received, queued) and failed ones, which support
may still retry (S2). Deleted in batches of ``INBOX_PRUNE_BATCH``, one short
transaction each, so the intake's writes never wait long behind the prune.
A sync decision that named a pruned delivery keeps its trace without the link.
"""
import logging
from datetime import timedelta

from flask import current_app

from portal.extensions import db
from portal.models import DeliveryState, WebhookDelivery
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

PRUNED_STATES = (DeliveryState.APPLIED, DeliveryState.REJECTED, DeliveryState.DUPLICATE, DeliveryState.SKIPPED)


def prune_inbox(now=None):
    """Delete finished deliveries older than the retention; returns how many rows went."""
    days = int(current_app.config["INBOX_RETENTION_DAYS"])
    batch = max(1, int(current_app.config["INBOX_PRUNE_BATCH"]))
    cutoff = (now or utcnow()) - timedelta(days=days)
    total = 0
    while True:
        with db.atomic():
            ids = [row.id for row in WebhookDelivery.select(WebhookDelivery.id).where(
                WebhookDelivery.state.in_(PRUNED_STATES) & (WebhookDelivery.received_at < cutoff))
                .order_by(WebhookDelivery.id).limit(batch)]
            if ids:
                WebhookDelivery.delete().where(WebhookDelivery.id.in_(ids)).execute()
        total += len(ids)
        if len(ids) < batch:
            break
    if total:
        log.info("inbox retention: pruned %d deliveries received before %s", total, cutoff.isoformat())
    return total
