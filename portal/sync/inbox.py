"""The durable webhook inbox (SPEC C7, E5, W6).

``receive`` is the whole intake: find the connection by its webhook token,
verify the signature over the raw body, store the delivery, enqueue
``jobs.sync.apply_delivery`` and answer. It does nothing slow, so Calendly
gets its 2xx in milliseconds. Every request leaves a ``WebhookDelivery`` row,
refused ones included (state ``rejected`` with the reason), so support can see
what arrived.

A delivery is stored before it is acknowledged; if Redis is down it stays
``received`` and ``sweep`` hands it to a worker later. ``apply`` runs in the
worker and is safe to run twice.

The stored body is the verified delivery minus what SPEC E2 says is never
synced (phone numbers, questions and answers, notes, tracking); replays are
recognised by the SHA-256 of the raw bytes.
"""
import hashlib
import json
import logging
import time
from collections import namedtuple
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq import Retry
from rq.job import Job, JobStatus

from portal.calendly import signatures
from portal.compiled import Compiled
from portal.models import CalendlyConnection, DeliveryState, Status, WebhookDelivery
from portal.queues import get_queue, get_redis
from portal.extensions import db
from portal.sync.apply import WEBHOOK, apply_booking, record_error, remembering_settings, write_transaction
from portal.sync.webhook_events import EVENT_TYPE_EVENTS, NO_SHOW_EVENTS
from portal.sync.booking import BOOKING_EVENTS, BookingError, minimize, parse_delivery
from portal.sync.event_types import follow_event_type
from portal.sync.no_shows import apply_no_show, parse_no_show
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

APPLY_JOB = "jobs.sync.apply_delivery"
QUEUE = "sync"
RETRY = dict(max=3, interval=[5, 30, 120])
# After this many attempts a failed delivery is left for support (S2 retry action).
MAX_ATTEMPTS = 8
SWEEP_BATCH = 500
# Deliveries one apply job takes off the queue: RQ's own cost per job (a dozen Redis round
# trips) is then paid once per batch instead of once per booking.
APPLY_BATCH = 20
ACTIVE_JOB_STATES = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)
# Headers never stored with a delivery.
PRIVATE_HEADERS = ("cookie", "authorization", "proxy-authorization")
LAST_WEBHOOK_RESOLUTION = timedelta(seconds=1)
# Invitee events (bookings and no-shows) name the invitee in ``payload.uri``; event type events the event type.
IMPORTED_EVENTS = BOOKING_EVENTS + NO_SHOW_EVENTS + EVENT_TYPE_EVENTS
DONE_STATES = (DeliveryState.APPLIED, DeliveryState.REJECTED, DeliveryState.DUPLICATE, DeliveryState.SKIPPED)


@dataclass(frozen=True)
class Reply:
    """What the intake answers Calendly."""

    status: int
    message: str
    delivery_id: int | None = None

    @property
    def ok(self):
        return self.status < 300


def job_id(delivery_id):
    return f"delivery-{delivery_id}"


# ------------------------------------------------------------------ intake
# The statements every delivery runs, compiled once (``portal.compiled``: Peewee's SQL
# building would cost more than SQLite's work). Only what the intake reads of the
# connection: the OAuth tokens are not decrypted on every delivery.
IntakeConnection = namedtuple("IntakeConnection", "id status signing_key last_webhook_at")
_CONNECTION_BY_TOKEN = Compiled(lambda token: (
    CalendlyConnection.select(CalendlyConnection.id, CalendlyConnection.status, CalendlyConnection.signing_key,
                              CalendlyConnection.last_webhook_at)
    .where(CalendlyConnection.webhook_token == token).limit(1)))
_EARLIER_DELIVERY = Compiled(lambda connection, digest: (
    WebhookDelivery.select(WebhookDelivery.id)
    .where((WebhookDelivery.connection == connection) & (WebhookDelivery.body_sha256 == digest)
           & WebhookDelivery.state.not_in((DeliveryState.REJECTED, DeliveryState.DUPLICATE)))
    .order_by(WebhookDelivery.id).limit(1)), ints=("connection",))
_STORE_QUEUED = Compiled(lambda connection, webhook_token, headers, body, event, invitee_uri, body_sha256, received_at: (
    WebhookDelivery.insert(connection=connection, webhook_token=webhook_token, headers=headers, body=body,
                           event=event, invitee_uri=invitee_uri, body_sha256=body_sha256, received_at=received_at,
                           state=DeliveryState.QUEUED, attempts=0)), ints=("connection",))
_TOUCH_CONNECTION = Compiled(lambda id, at: (
    CalendlyConnection.update(last_webhook_at=at).where(CalendlyConnection.id == id)), ints=("id",))


def receive(webhook_token, headers, body):
    """Verify, store and enqueue one delivery; returns the ``Reply`` to send."""
    found = _CONNECTION_BY_TOKEN.first(token=webhook_token)
    connection = IntakeConnection(*found) if found else None
    if connection is None:
        return _reject(None, webhook_token, headers, body, 404, "no connection has this webhook address")
    if connection.status == Status.DISCONNECTED:
        return _reject(connection, webhook_token, headers, body, 410, "the connection was removed")

    refusal = check_signature(connection, headers.get(signatures.HEADER), body)
    if refusal is not None:
        return _reject(connection, webhook_token, headers, body, *refusal)

    try:
        envelope = json.loads(body)
        if not isinstance(envelope, dict):
            raise ValueError("not an object")
        stored = json.dumps(minimize(envelope))
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return _reject(connection, webhook_token, headers, body, 400, "the body is not a JSON object")

    event = str(envelope.get("event") or "")
    payload = envelope.get("payload") if isinstance(envelope.get("payload"), dict) else {}
    invitee_uri = payload.get("uri") if isinstance(payload.get("uri"), str) else None
    if event in EVENT_TYPE_EVENTS:
        invitee_uri = None
    row = dict(webhook_token=webhook_token[:255], headers=_headers_json(headers),
               body=stored, event=event[:255], invitee_uri=(invitee_uri or "")[:255] or None)

    if event not in IMPORTED_EVENTS:
        delivery = WebhookDelivery.create(**row, connection=connection.id, state=DeliveryState.SKIPPED,
                                          error=f"event {event or '(none)'} is not imported")
        return Reply(200, "ignored: event not imported", delivery.id)

    digest = hashlib.sha256(body).hexdigest()
    earlier = _EARLIER_DELIVERY.first(connection=connection.id, digest=digest)
    if earlier is not None:
        # A retry of a delivery we already hold, or a replay: acknowledged, applied once (W6).
        delivery = WebhookDelivery.create(**row, connection=connection.id, body_sha256=digest,
                                          state=DeliveryState.DUPLICATE,
                                          error=f"same body as delivery {earlier[0]}; not applied again")
        return Reply(200, "already received", delivery.id)

    # One write per delivery, stored already marked queued; ``enqueue`` puts it back to received if
    # Redis cannot take the job. The connection's last webhook time is refreshed at most once a
    # second: at hundreds of deliveries a second one row would otherwise take every write.
    now = utcnow()
    delivery_id = _STORE_QUEUED.insert(**row, connection=connection.id, body_sha256=digest, received_at=now)
    last = connection.last_webhook_at
    if last is None or now - last >= LAST_WEBHOOK_RESOLUTION:
        _TOUCH_CONNECTION.execute(id=connection.id, at=now)
    enqueue(delivery_id, stored_as_queued=True)
    return Reply(200, "received", delivery_id)


def check_signature(connection, header, body):
    """``None`` when ``header`` signs ``body`` for this connection, else ``(status, reason)``.

    The connection's own signing key is tried first, then the OAuth app's key
    (Calendly signs with the app key when a subscription has none, C7).
    """
    if not header:
        return 401, "missing Calendly-Webhook-Signature header"
    t, _ = signatures.parse(header)
    if t is None:
        return 400, "malformed Calendly-Webhook-Signature header"
    tolerance = current_app.config.get("WEBHOOK_TOLERANCE_SECONDS", 180)
    candidates = (connection.signing_key, current_app.config.get("CALENDLY_WEBHOOK_SIGNING_KEY"))
    keys = [k for k in dict.fromkeys(candidates) if k]
    if not keys:
        return 401, "no signing key is configured for this connection"
    now = time.time()
    if any([signatures.verify(header, body, key, tolerance=tolerance, now=now) for key in keys]):
        return None
    if abs(now - t) > tolerance:
        return 401, f"signature timestamp outside the {tolerance} s tolerance"
    return 401, "signature does not match"


def refuse_oversize(webhook_token, headers, size):
    """413 for a body over ``WEBHOOK_MAX_BODY_BYTES``; recorded without its body."""
    connection = CalendlyConnection.get_or_none(CalendlyConnection.webhook_token == webhook_token)
    limit = current_app.config["WEBHOOK_MAX_BODY_BYTES"]
    return _reject(connection, webhook_token, headers, b"", 413,
                   f"body of {size} bytes is over the {limit}-byte limit")


def _reject(connection, webhook_token, headers, body, status, reason):
    delivery = WebhookDelivery.create(
        connection=connection.id if connection is not None else None, webhook_token=(webhook_token or "")[:255], headers=_headers_json(headers),
        body=_text(body), state=DeliveryState.REJECTED, error=reason,
    )
    log.warning("webhook delivery %s refused (%s): %s", delivery.id, status, reason)
    return Reply(status, reason, delivery.id)


def _headers_json(headers):
    kept = {k: v for k, v in headers.items() if k.lower() not in PRIVATE_HEADERS}
    return json.dumps(kept)


# A refused request is kept for support to read, but only its start: anyone
# can post to the intake, and what they send must not fill the database.
REJECTED_BODY_KEEP_BYTES = 4096


def _text(body):
    """A refused body as text, minimized like an accepted one when it is JSON (E2), cut to a few KB."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else (body or "")
    try:
        text = json.dumps(minimize(json.loads(text)))
    except (ValueError, RecursionError):
        pass
    if len(text) > REJECTED_BODY_KEEP_BYTES:
        text = text[:REJECTED_BODY_KEEP_BYTES] + f"… [{len(text) - REJECTED_BODY_KEEP_BYTES} more characters not kept]"
    return text


# ------------------------------------------------------------------ hand-off to RQ
def enqueue(delivery_id, stored_as_queued=False):
    """Hand the delivery to a worker (queue ``sync``); False when Redis is unavailable."""
    queue = get_queue(QUEUE)
    job = dict(job_id=job_id(delivery_id), retry=Retry(**RETRY), description=f"Apply Calendly delivery {delivery_id}")
    try:
        if queue.is_async:
            # One round trip to Redis instead of RQ's two (queue registration, then the job).
            pipe = get_redis().pipeline()
            queue.enqueue(APPLY_JOB, delivery_id, pipeline=pipe, **job)
            pipe.execute()
        else:  # run inline (tests): RQ runs the job before a pipeline would be sent
            queue.enqueue(APPLY_JOB, delivery_id, **job)
    except RedisError as exc:
        log.warning("delivery %s stays in the inbox: Redis unavailable (%s)", delivery_id, exc)
        if stored_as_queued:
            WebhookDelivery.update(state=DeliveryState.RECEIVED).where(
                (WebhookDelivery.id == delivery_id) & (WebhookDelivery.state == DeliveryState.QUEUED)).execute()
        return False
    if stored_as_queued:
        return True
    # Conditional: the worker may already have applied it.
    WebhookDelivery.update(state=DeliveryState.QUEUED).where(
        (WebhookDelivery.id == delivery_id)
        & WebhookDelivery.state.in_((DeliveryState.RECEIVED, DeliveryState.FAILED))
    ).execute()
    return True


def _still_active(job, cutoff, queued_ids):
    """True while ``job`` is queued, scheduled or really running.

    A worker killed mid-job (SIGKILL, OOM) leaves it "started" until RQ's
    registry cleanup, minutes later; applying one delivery takes
    milliseconds, so one started before ``cutoff`` is abandoned: its stale
    execution is dropped and the sweep enqueues it again (apply is idempotent).
    One killed between taking a job off the queue and starting it (RQ's
    LPOP, or a batch claim) leaves it "queued" but in no queue: abandoned too.
    """
    status = job.get_status(refresh=False)  # as fetched: a worker may delete a job it claims meanwhile
    if status == JobStatus.QUEUED:
        return job.id in queued_ids
    if status != JobStatus.STARTED:
        return status in ACTIVE_JOB_STATES
    if job.started_at is None or job.started_at.replace(tzinfo=None) >= cutoff:
        return True
    job.started_job_registry.remove_executions(job)
    return False


def sweep(now=None):
    """Re-enqueue deliveries a worker never finished (E5); returns how many.

    Picks rows received, queued or failed more than ``INBOX_SWEEP_AFTER_SECONDS``
    ago whose RQ job is not queued, running or scheduled for a retry.
    """
    now = now or utcnow()
    cutoff = now - timedelta(seconds=current_app.config.get("INBOX_SWEEP_AFTER_SECONDS", 30))
    rows = list(
        WebhookDelivery.select(WebhookDelivery.id)
        .where(
            WebhookDelivery.state.in_(DeliveryState.PENDING + (DeliveryState.FAILED,))
            & (WebhookDelivery.received_at < cutoff)
            & WebhookDelivery.connection.is_null(False)
            & (WebhookDelivery.attempts < MAX_ATTEMPTS)
        )
        .order_by(WebhookDelivery.id)
        .limit(SWEEP_BATCH)
    )
    if not rows:
        return 0
    ids = [r.id for r in rows]
    try:
        queued_ids = set(get_queue(QUEUE).get_job_ids())  # before fetching: a job taken since looks started
        jobs = Job.fetch_many([job_id(i) for i in ids], connection=get_redis())
        active = {i for i, j in zip(ids, jobs) if j is not None and _still_active(j, cutoff, queued_ids)}
    except RedisError as exc:
        log.warning("inbox sweep skipped: Redis unavailable (%s)", exc)
        return 0
    count = 0
    for delivery_id in ids:
        if delivery_id not in active and enqueue(delivery_id):
            count += 1
    if count:
        log.info("inbox sweep re-enqueued %d deliveries", count)
    return count


# ------------------------------------------------------------------ the worker's side
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
    pending = list(WebhookDelivery.select(WebhookDelivery.id, WebhookDelivery.attempts).where(
        WebhookDelivery.id.in_(ids) & WebhookDelivery.state.not_in(DONE_STATES)
        & WebhookDelivery.connection.is_null(False)).tuples())
    if pending:
        # Counted in a write of its own, before applying: a worker killed mid-batch still leaves the
        # attempt counted, so a delivery that kills workers stops being retried (MAX_ATTEMPTS).
        WebhookDelivery.update(attempts=WebhookDelivery.attempts + 1).where(
            WebhookDelivery.id.in_([i for i, _ in pending])).execute()
    retried = {i for i, attempts in pending if attempts > 0}
    results = {}
    fresh = [i for i in ids if i not in retried]
    for group in ([fresh] if fresh else []) + [[i] for i in ids if i in retried]:
        results.update(_apply_group(group))
    return results


def _apply_group(ids):
    results, connections, applied = {}, {}, []
    with write_transaction(), remembering_settings():
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
            try:
                with db.atomic():  # a savepoint: a failure undoes this delivery's writes only
                    results[delivery.id] = _apply_one(delivery, connections)
                if delivery.state == DeliveryState.APPLIED:
                    applied.append(delivery.id)
            except Exception as exc:
                results[delivery.id] = exc
                _failed(delivery, connections, exc)
        if applied:
            WebhookDelivery.update(state=DeliveryState.APPLIED, error=None, applied_at=utcnow()).where(
                WebhookDelivery.id.in_(applied)).execute()
    return results


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
        connections[connection_id] = CalendlyConnection.get_by_id(connection_id)
    return connections[connection_id]


def _failed(delivery, connections, exc):
    text = f"{exc.__class__.__name__}: {exc}"[:2000]
    _finish(delivery, DeliveryState.FAILED, text)
    booking = getattr(delivery, "booking", None)
    if delivery.attempts == 1 and booking is not None:
        record_error(_connection(connections, delivery.connection_id), booking, WEBHOOK, delivery, text)


def claim_queued(limit):
    """Take up to ``limit`` delivery jobs off the head of the ``sync`` queue; returns their delivery ids.

    Removing a job id from the queue list is atomic, so each job is won by one
    worker only; the job is deleted and the caller applies its delivery. If that
    worker dies first, the delivery is still pending in the inbox and ``sweep``
    hands it over again (its job no longer exists).
    """
    queue = get_queue(QUEUE)
    candidates = [j for j in queue.get_job_ids(0, limit) if j.startswith("delivery-")]
    if not candidates:
        return []
    redis = get_redis()
    pipe = redis.pipeline(transaction=False)
    for candidate in candidates:
        queue.remove(candidate, pipeline=pipe)
    won = [c for c, removed in zip(candidates, pipe.execute()) if removed]
    if won:
        redis.delete(*[Job.key_for(c) for c in won])
    return [int(c.split("-", 1)[1]) for c in won]


def apply_batch(delivery_id, limit=APPLY_BATCH):
    """``jobs.sync.apply_delivery``: the job's delivery and up to ``limit - 1`` queued behind it, in one transaction.

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
    for other in claimed:
        if isinstance(results.get(other), Exception):
            log.error("delivery %s failed in a batch (%s); the inbox sweep retries it", other, results[other])
    result = results.get(delivery_id)
    if isinstance(result, Exception):
        raise result
    return result


def _finish(delivery, state, error):
    applied_at = utcnow() if state == DeliveryState.APPLIED else None
    WebhookDelivery.update(state=state, error=error, applied_at=applied_at).where(
        WebhookDelivery.id == delivery.id).execute()
    delivery.state, delivery.error = state, error
    return None
