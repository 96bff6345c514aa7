"""The webhook intake (SPEC C7, E2, W6): verify, store, hand on, answer.

``receive`` finds the connection by its webhook token, verifies the
signature over the raw body, stores the delivery (its one durable write) and
wakes the inbox (``portal.pipeline.inbox_wake``: a flag for the web
process's wake-up thread, which sends one ``SET NX`` per burst; no job and
no Redis round trip per delivery). It does nothing slow, so Calendly gets its 2xx in
milliseconds. Every accepted request leaves a ``WebhookDelivery``
row; a refused one leaves a small bounded one (state ``rejected`` with the
reason, ``refusals``) within per-address and global rate limits, so support
can see what arrived without anyone filling the database.

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

from portal.calendly import signatures
from portal.models import CalendlyConnection, DeliveryState, Status, WebhookDelivery
from portal.pipeline import refusals
from portal.pipeline.inbox_wake import signal as wake_inbox
from portal.statement_cache import CachedStatement
from portal.sync.booking import BOOKING_EVENTS, minimize
from portal.sync.webhook_events import EVENT_TYPE_EVENTS, NO_SHOW_EVENTS
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

# Invitee events (bookings and no-shows) name the invitee in ``payload.uri``; event type events the event type.
IMPORTED_EVENTS = BOOKING_EVENTS + NO_SHOW_EVENTS + EVENT_TYPE_EVENTS

# Headers never stored with a delivery.
PRIVATE_HEADERS = ("cookie", "authorization", "proxy-authorization")
LAST_WEBHOOK_RESOLUTION = timedelta(seconds=1)


@dataclass(frozen=True)
class Reply:
    """What the intake answers Calendly."""

    status: int
    message: str
    delivery_id: int | None = None

    @property
    def ok(self):
        return self.status < 300


# The statements every delivery runs, compiled once (``portal.statement_cache``: Peewee's SQL
# building would cost more than SQLite's work). Only what the intake reads of the
# connection: the OAuth tokens are not decrypted on every delivery.
IntakeConnection = namedtuple("IntakeConnection", "id status signing_key last_webhook_at")
_CONNECTION_BY_TOKEN = CachedStatement(lambda token: (
    CalendlyConnection.select(CalendlyConnection.id, CalendlyConnection.status, CalendlyConnection.signing_key,
                              CalendlyConnection.last_webhook_at)
    .where(CalendlyConnection.webhook_token == token).limit(1)))
_EARLIER_DELIVERY = CachedStatement(lambda connection, digest: (
    WebhookDelivery.select(WebhookDelivery.id)
    .where((WebhookDelivery.connection == connection) & (WebhookDelivery.body_sha256 == digest)
           & WebhookDelivery.state.not_in((DeliveryState.REJECTED, DeliveryState.DUPLICATE)))
    .order_by(WebhookDelivery.id).limit(1)), ints=("connection",))
_STORE_RECEIVED = CachedStatement(lambda connection, webhook_token, headers, body, event, invitee_uri, body_sha256, received_at: (
    WebhookDelivery.insert(connection=connection, webhook_token=webhook_token, headers=headers, body=body,
                           event=event, invitee_uri=invitee_uri, body_sha256=body_sha256, received_at=received_at,
                           state=DeliveryState.RECEIVED, attempts=0)), ints=("connection",))
_TOUCH_CONNECTION = CachedStatement(lambda id, at: (
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

    # One write per delivery, stored "received": a drain job woken by ``wake_inbox`` hands it to a worker,
    # or the sweep does if Redis is down. The connection's last webhook time is refreshed at most
    # once a second: at hundreds of deliveries a second one row would otherwise take every write.
    now = utcnow()
    delivery_id = _STORE_RECEIVED.insert(**row, connection=connection.id, body_sha256=digest, received_at=now)
    last = connection.last_webhook_at
    if last is None or now - last >= LAST_WEBHOOK_RESOLUTION:
        _TOUCH_CONNECTION.execute(id=connection.id, at=now)
    wake_inbox()
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
    if any(signatures.verify(header, body, key, tolerance=tolerance, now=now) for key in keys):  # own key first
        return None
    if abs(now - t) > tolerance:
        return 401, f"signature timestamp outside the {tolerance} s tolerance"
    return 401, "signature does not match"


def refuse_oversize(webhook_token, headers, size):
    """413 for a body over ``WEBHOOK_MAX_BODY_BYTES`` (``size`` bytes, at least); recorded without its body."""
    connection = CalendlyConnection.get_or_none(CalendlyConnection.webhook_token == webhook_token)
    limit = current_app.config["WEBHOOK_MAX_BODY_BYTES"]
    over = f"{size} bytes" if size > limit + 1 else f"more than {limit} bytes"
    return _reject(connection, webhook_token, headers, b"", 413, f"body of {over} is over the {limit}-byte limit",
                   body_size=size)


def _reject(connection, webhook_token, headers, body, status, reason, body_size=None):
    """Answer a refusal; ``refusals`` keeps a bounded record of it unless its rate limits say no."""
    delivery_id = refusals.record(connection.id if connection is not None else None, webhook_token, headers, body,
                                  status, reason, body_size=body_size)
    return Reply(status, reason, delivery_id)


def _headers_json(headers):
    kept = {k: v for k, v in headers.items() if k.lower() not in PRIVATE_HEADERS}
    return json.dumps(kept)
