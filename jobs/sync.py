"""RQ entry points of the sync engine (enqueue by dotted path, ids only).

- ``apply_delivery(delivery_id)``: one webhook delivery (queue ``sync``, job id ``delivery-<id>``),
  and the deliveries queued right behind it, in one job (``batches.apply_batch``);
- ``backfill_connection(connection_id)``: W2 after the first Save (queue ``bulk``, ``backfill-<id>``);
- ``reconcile_connection(connection_id)``: E5/C5/C7 upkeep (queue ``default``, ``reconcile-<id>``);
- ``reconcile_all()``: one reconciliation per connection (scheduled);
- ``sweep_inbox()``: re-enqueue deliveries no worker finished (scheduled).
"""
from jobs.context import job
from portal.pipeline import backfill, batches, inbox, reconcile


@job
def apply_delivery(delivery_id):
    result = batches.apply_batch(delivery_id)
    return result.outcome if result is not None else None


@job
def backfill_connection(connection_id):
    return backfill.run(connection_id)


@job
def reconcile_connection(connection_id):
    return reconcile.run(connection_id)


@job
def reconcile_all():
    return reconcile.enqueue_all()


@job
def sweep_inbox():
    return inbox.sweep()
