"""RQ entry points of the sync engine (enqueue by dotted path, ids only).

- ``drain_inbox()``: hand every stored (``received``) delivery to an ``apply_batch`` job, or apply a few
  itself (``batches.apply_claimed``); one per burst of deliveries, woken by the intake (``inbox.wake``);
- ``apply_batch(delivery_id)``: a batch: one webhook delivery (queue ``sync``, job id ``delivery-<id>``),
  and the deliveries queued right behind it, in one job (``batches.apply_batch``);
- ``backfill_connection(connection_id)``: W2 after the first Save (queue ``bulk``, ``backfill-<id>``);
- ``reconcile_connection(connection_id)``: E5/C5/C7 upkeep (queue ``default``, ``reconcile-<id>``);
  both, stopped by a 429, run again after Calendly's reset (``<kind>-<id>-after-429-…``);
- ``reconcile_all()``: one reconciliation per connection (scheduled);
- ``sweep_inbox()``: re-enqueue deliveries no worker finished (scheduled);
- ``prune_inbox()``: delete finished deliveries past ``INBOX_RETENTION_DAYS`` (scheduled, queue ``bulk``).
"""
from jobs.context import job
from portal.calendly.errors import RateLimited
from portal.pipeline import backfill, batches, inbox, reconcile, retention


@job
def drain_inbox():
    return inbox.drain(apply_here=batches.apply_claimed)


@job
def apply_batch(delivery_id):
    result = batches.apply_batch(delivery_id)
    return result.outcome if result is not None else None


# Jobs queued under the old name before an upgrade still run.
apply_delivery = apply_batch


@job
def backfill_connection(connection_id):
    try:
        return backfill.run(connection_id)
    except RateLimited as exc:  # a 429 is backoff (issue 12): again after Calendly's reset, no Error
        reconcile.enqueue_later(reconcile.BACKFILL_JOB, connection_id, exc.retry_after)
        return None


@job
def reconcile_connection(connection_id):
    try:
        return reconcile.run(connection_id)
    except RateLimited as exc:
        reconcile.enqueue_later(reconcile.RECONCILE_JOB, connection_id, exc.retry_after)
        return None


@job
def reconcile_all():
    return reconcile.enqueue_all()


@job
def sweep_inbox():
    return inbox.sweep()


@job
def prune_inbox():
    return retention.prune_inbox()
