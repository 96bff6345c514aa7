"""Applying stored deliveries in batches (the worker's side of the inbox; SPEC W6).

``jobs.sync.apply_batch`` runs ``apply_batch``: its own delivery and the
delivery jobs queued right behind it, in one transaction, so RQ's cost per
job is paid once per batch. Each goes through ``portal.sync.apply`` with
the app's W2 window.
"""
import contextvars
import json
import logging
import random
import time

from flask import current_app
from redis.exceptions import RedisError

from portal.extensions import db
from portal.models import CalendlyConnection, DeliveryState, User, WebhookDelivery
from portal.pipeline import inbox, plan_watch, workflows
from portal.pipeline.inbox import QUEUE
from portal.queues import claim_jobs, get_queue
from portal.sync import apply as rules
from portal.sync.apply import WEBHOOK, record_error, transient_conflict, write_transaction
from portal.sync.booking import BookingError, parse_delivery
from portal.sync.event_types import follow_event_type
from portal.sync.no_shows import apply_no_show, parse_no_show
from portal.sync.webhook_events import EVENT_TYPE_EVENTS, NO_SHOW_EVENTS
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

# Deliveries one apply job takes off the queue: RQ's own cost per job (a dozen Redis round
# trips) is then paid once per batch instead of once per booking.
APPLY_BATCH = 20
# Tries of one delivery that keeps meeting a concurrent-write conflict (a deadlock) before it is marked failed.
TRANSIENT_TRIES = 5
DONE_STATES = (DeliveryState.APPLIED, DeliveryState.REJECTED, DeliveryState.DUPLICATE, DeliveryState.SKIPPED)


def apply(delivery_id):
    """Apply one stored delivery; safe to run again.

    A delivery whose body is not a booking is rejected with the reason. Any
    other error marks it failed and is re-raised so RQ retries it.
    """
    outcome = apply_many([delivery_id]).get(delivery_id)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def apply_many(delivery_ids):
    """Apply stored deliveries; returns ``{id: result}``, an exception as the result of one that failed.

    Deliveries seen for the first time go in one transaction, each in its own
    savepoint: one commit per batch instead of a few per booking (on SQLite
    every commit rewrites the pages of each table and index it touched). A
    delivery that failed, or whose worker died, before goes alone, so one bad
    delivery never takes the good ones down with it again.
    """
    ids = list(dict.fromkeys(delivery_ids))
    pending = list(WebhookDelivery.select(WebhookDelivery.id, WebhookDelivery.attempts, WebhookDelivery.connection)
                   .where(WebhookDelivery.id.in_(ids) & WebhookDelivery.state.not_in(DONE_STATES)
                          & WebhookDelivery.connection.is_null(False)).tuples())
    # Outside the write transaction: it may ask Calendly whether the plan lapsed (C5).
    plan_watch.check_due([c for _, _, c in pending])
    if pending:
        # Counted in a write of its own, before applying: a worker killed mid-batch still leaves the
        # attempt counted, so a delivery that kills workers stops being retried (MAX_ATTEMPTS).
        WebhookDelivery.update(attempts=WebhookDelivery.attempts + 1).where(
            WebhookDelivery.id.in_([i for i, _, _ in pending])).execute()
    retried = {i for i, attempts, _ in pending if attempts > 0}
    results = {}
    fresh = [i for i in ids if i not in retried]
    for group in ([fresh] if fresh else []) + [[i] for i in ids if i in retried]:
        results.update(_apply_group(group))
    return results


# The memo of the batch being applied: each connection's selections and each subaccount's
# E4 setting are read once per batch, not once per booking.
_batch_memo = contextvars.ContextVar("calbridge_batch_memo", default=None)


def apply_booking(connection, booking, via, delivery=None):
    """The one write path (``portal.sync.apply``) with the app's W2 window and the batch's memo."""
    return rules.apply_booking(connection, booking, via, delivery,
                               backfill_days=current_app.config.get("BACKFILL_DAYS", 180), memo=_batch_memo.get())


class _BatchConflict(Exception):
    """A delivery of a batch met another worker's batch (a deadlock): the whole batch is rolled back."""


def _apply_group(ids):
    """Apply ``ids`` in one transaction; a batch that deadlocks with another worker is undone and tried again.

    Rolling back only the delivery that met the deadlock is not enough when
    the other worker waits on a row an earlier delivery of this batch wrote:
    that lock lasts until this batch commits, so both would wait again.
    Rolling back the batch frees every lock it took; after ``TRANSIENT_TRIES``
    such tries its deliveries go one by one.
    """
    if len(ids) > 1:
        for attempt in range(TRANSIENT_TRIES):
            try:
                return _apply_group_once(ids, alone=False)
            except _BatchConflict as conflict:
                log.info("batch of %s deliveries: %s; trying again", len(ids), conflict)
                time.sleep(random.uniform(0.02, 0.1) * (attempt + 1))  # apart from the other worker's next try
        results = {}
        for i in ids:
            results.update(_apply_group_once([i], alone=True))
        return results
    return _apply_group_once(ids, alone=True)


def _apply_group_once(ids, alone):
    results, connections, applied = {}, {}, []
    token = _batch_memo.set({})
    try:
        with write_transaction():
            # Read inside the transaction: a delivery another worker applied meanwhile is not applied again.
            rows = WebhookDelivery.select(WebhookDelivery.id, WebhookDelivery.connection, WebhookDelivery.body,
                                          WebhookDelivery.state, WebhookDelivery.attempts).where(
                WebhookDelivery.id.in_(ids) & WebhookDelivery.state.not_in(DONE_STATES)).order_by(WebhookDelivery.id)
            if db.obj.for_update:
                # PostgreSQL: a second worker holding the same delivery waits here, then no longer sees it
                # pending (on SQLite, BEGIN IMMEDIATE already serialises the batches).
                rows = rows.for_update()
            by_id = {d.id: d for d in rows}
            for delivery in (by_id[i] for i in ids if i in by_id):
                outcome = _apply_in_savepoint(delivery, connections, alone)
                results[delivery.id] = outcome
                if isinstance(outcome, Exception):
                    _failed(delivery, connections, outcome)
                elif delivery.state == DeliveryState.APPLIED:
                    applied.append(delivery.id)
            if applied:
                WebhookDelivery.update(state=DeliveryState.APPLIED, error=None, applied_at=utcnow()).where(
                    WebhookDelivery.id.in_(applied)).execute()
    finally:
        _batch_memo.reset(token)
    return results


def _apply_in_savepoint(delivery, connections, alone):
    """One delivery in its own savepoint; a deadlock with another worker is tried again, not failed.

    Alone in its transaction, rolling back to the savepoint releases every
    lock this delivery took, so the other worker goes on and our next try
    waits for its commit. In a batch, the whole batch is tried again.
    """
    for attempt in range(TRANSIENT_TRIES):
        try:
            with db.atomic():  # a savepoint: a failure undoes this delivery's writes only
                return _apply_one(delivery, connections)
        except Exception as exc:
            if not alone and transient_conflict(exc):
                raise _BatchConflict(f"delivery {delivery.id}: {exc.__class__.__name__}") from exc
            if attempt + 1 < TRANSIENT_TRIES and transient_conflict(exc):
                log.info("delivery %s: %s; trying again", delivery.id, exc.__class__.__name__)
                time.sleep(0.02 * (attempt + 1))
                continue
            return exc


def _apply_one(delivery, connections):
    if delivery.connection_id is None:
        return _finish(delivery, DeliveryState.REJECTED, "the delivery has no connection")
    try:
        envelope = json.loads(delivery.body)
        event = envelope.get("event") if isinstance(envelope, dict) else None
        if event in EVENT_TYPE_EVENTS:
            payload = envelope.get("payload")
            if not isinstance(payload, dict) or not payload.get("uri"):
                raise BookingError("event type delivery has no event type")
        elif event in NO_SHOW_EVENTS:
            delivery.booking = parse_no_show(envelope)
        else:
            _, delivery.booking = parse_delivery(envelope)
    except (ValueError, BookingError) as exc:
        return _finish(delivery, DeliveryState.REJECTED, f"not a booking Calbridge can read: {exc}")
    connection = _connection(connections, delivery.connection_id)
    if event in EVENT_TYPE_EVENTS:
        result = follow_event_type(connection, payload)
    elif event in NO_SHOW_EVENTS:
        result = apply_no_show(connection, delivery.booking, WEBHOOK, delivery=delivery)
    else:
        result = apply_booking(connection, delivery.booking, WEBHOOK, delivery=delivery)
    delivery.state = DeliveryState.APPLIED  # stored for the whole batch at its end
    return result


def _connection(connections, connection_id):
    if connection_id not in connections:
        # With its user (O1 names the owner): one query, not a second one per batch.
        connections[connection_id] = (CalendlyConnection.select(CalendlyConnection, User).join(User)
                                      .where(CalendlyConnection.id == connection_id).get())
    return connections[connection_id]


def _failed(delivery, connections, exc):
    text = f"{exc.__class__.__name__}: {exc}"[:2000]
    _finish(delivery, DeliveryState.FAILED, text)
    booking = getattr(delivery, "booking", None)
    if delivery.attempts == 1 and booking is not None:
        record_error(_connection(connections, delivery.connection_id), booking, WEBHOOK, delivery, text)


def claim_queued(limit):
    """Take up to ``limit`` delivery jobs off the head of the ``sync`` queue; returns their delivery ids.

    Each job is won by one worker only (``queues.claim_jobs``); if that worker
    dies first, the delivery is still pending in the inbox and ``sweep`` hands
    it over again (its job no longer exists).
    """
    return [int(c.split("-", 1)[1]) for c in claim_jobs(QUEUE, "delivery-", limit)]


def apply_batch(delivery_id, limit=APPLY_BATCH):
    """``jobs.sync.apply_batch``: the job's delivery and up to ``limit - 1`` queued behind it, in one transaction.

    A failure of the job's own delivery is raised so RQ retries it; a claimed
    delivery that fails is marked failed and left to the sweep's retries.
    """
    claimed = []
    if limit > 1 and current_app.config.get("RQ_ASYNC", True):
        try:
            claimed = [i for i in claim_queued(limit - 1) if i != delivery_id]
        except RedisError as exc:
            log.warning("no batch after delivery %s: Redis unavailable (%s)", delivery_id, exc)
    results = apply_many([delivery_id, *claimed])
    match_new_events()
    for other in claimed:
        if isinstance(results.get(other), Exception):
            log.error("delivery %s failed in a batch (%s); the inbox sweep retries it", other, results[other])
    result = results.get(delivery_id)
    if isinstance(result, Exception):
        raise result
    return result


def apply_claimed(ids):
    """The drain's ``apply_here``: deliveries it claimed, applied in its own job (no apply job each).

    One that fails gets its apply job, scheduled as RQ's retry of it would
    have been (``inbox.retry_later``). If the batch cannot run at all, every
    delivery goes to an apply job as the drain would have sent it.
    """
    try:
        results = apply_many(ids)
    except Exception:
        log.exception("deliveries %s not applied in the drain's job; handed to apply jobs", ids)
        inbox.hand_to_jobs(ids)
        return
    for delivery_id in ids:  # before matching, which may take long or fail: the retries are not held up
        if isinstance(results.get(delivery_id), Exception):
            log.error("delivery %s failed (%s); its apply job tries again", delivery_id, results[delivery_id])
            inbox.retry_later(delivery_id)
    match_new_events()


def match_new_events():
    """After an apply: match the events it wrote in this job when no delivery waits behind it, else in the match job.

    At a low rate that saves an RQ job per booking; under load the match job
    (a lower queue) still waits for the deliveries and takes many at once.
    """
    try:
        backlog = get_queue(QUEUE).count if current_app.config.get("RQ_ASYNC", True) else 0
    except RedisError:
        backlog = 1  # kick_if_pending says Redis is down
    if backlog:
        workflows.kick_if_pending()
        return
    try:
        workflows.match_all()
    except Exception:  # noqa: BLE001 - the deliveries are committed; the match job tries again
        log.exception("matching events after an apply failed; the match job tries again")
        workflows.kick()


def _finish(delivery, state, error):
    applied_at = utcnow() if state == DeliveryState.APPLIED else None
    WebhookDelivery.update(state=state, error=error, applied_at=applied_at).where(
        WebhookDelivery.id == delivery.id).execute()
    delivery.state, delivery.error = state, error
    return None
