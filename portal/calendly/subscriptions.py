"""A connection's webhook subscription at Calendly: create, find, replace safely (SPEC C7, issue 17).

The portal subscribes to the invitee events, the no-show events and, where
the granted scopes allow (``event_types:read``), the event type events
(API-FACTS §3, §7). A subscription that is disabled, lost, or asks for other
events than these is replaced: the new one is created first and only then
is the old one deleted, so a failed create leaves the old subscription
working (it is tried again at the next reconciliation).

Calendly refuses a second subscription to the same URL (409, API-FACTS §7),
so the callback URL names its event list (``?events=<digest>``): the new
subscription of a changed list has a URL of its own while the old one still
delivers. Only a disabled subscription with the same list (which delivers
nothing) is deleted before its replacement is created.
"""
import hashlib
import logging
import secrets

from flask import current_app

from portal.calendly.client import CalendlyClient
from portal.calendly.errors import CalendlyError, NotFound, ReconnectNeeded
from portal.sync.webhook_events import EVENT_TYPE_EVENTS, INVITEE_EVENTS, NO_SHOW_EVENTS
from portal.models import CalendlyConnection

log = logging.getLogger(__name__)

ACTIVE = "active"
MISSING = "missing"
LEGACY_SCOPE = "default"


def wanted_events(scopes=None):
    """The events to subscribe to with the configured ``CALENDLY_SCOPES`` (empty: a legacy app, full access)."""
    if scopes is None:
        scopes = current_app.config.get("CALENDLY_SCOPES") or ""
    granted = set(scopes.split())
    events = INVITEE_EVENTS + NO_SHOW_EVENTS
    if not granted or LEGACY_SCOPE in granted or granted & {"event_types:read", "event_types:write"}:
        events += EVENT_TYPE_EVENTS
    return events


def events_digest(events):
    return hashlib.sha256(" ".join(sorted(events)).encode()).hexdigest()[:10]


def webhook_url(connection, events=None):
    """The per-connection callback route ``webhooks.calendly``, naming the event list it is for."""
    events = wanted_events() if events is None else events
    base = current_app.config["PORTAL_BASE_URL"].rstrip("/") + "/webhooks/calendly/" + connection.webhook_token
    return f"{base}?events={events_digest(events)}"


def new_signing_key():
    return secrets.token_urlsafe(32)


def subscribe(client, connection, signing_key, events=None):
    """Create the connection's subscription signed with ``signing_key``; returns Calendly's resource."""
    events = wanted_events() if events is None else events
    return client.create_webhook_subscription(webhook_url(connection, events), signing_key, events)


def find(client, connection):
    """The connection's subscription as Calendly has it, or None when Calendly lost it."""
    if not connection.webhook_subscription_uri:
        return None
    try:
        return client.get_webhook_subscription(connection.webhook_subscription_uri)
    except NotFound:
        return None


def state_of(subscription):
    """``active``, ``disabled``, … as Calendly says; ``missing`` when there is none."""
    if subscription is None:
        return MISSING
    return subscription.get("state") or ACTIVE


def is_current(subscription, events):
    """Active and asking for exactly ``events``."""
    return state_of(subscription) == ACTIVE and set(subscription.get("events") or ()) == set(events)


def ensure_webhook(connection, client=None, found=...):
    """Make sure Calendly has an active subscription with the wanted events; replace it safely if not.

    ``found`` is the subscription the caller already fetched (``find``), if any.
    Returns the subscription in use: the old one when its replacement could
    not be created (the error is logged; the next reconciliation tries again).
    """
    client = client or CalendlyClient(connection)
    sub = find(client, connection) if found is ... else found
    events = wanted_events()
    if is_current(sub, events):
        _store(connection, sub)
        return sub
    if not connection.signing_key:
        connection.signing_key = new_signing_key()
        connection.save(only=[CalendlyConnection.signing_key])
    old_uri = connection.webhook_subscription_uri if sub is not None else None
    try:
        new = subscribe(client, connection, connection.signing_key, events)
        if old_uri and new.get("uri") == old_uri:
            # Calendly answered 409 and the client handed back the old (disabled) subscription holding the URL.
            client.delete_webhook_subscription(old_uri)
            old_uri = None
            new = subscribe(client, connection, connection.signing_key, events)
    except ReconnectNeeded:
        raise
    except CalendlyError as exc:
        if state_of(sub) != ACTIVE:
            raise
        log.warning("connection %s: could not replace webhook subscription %s (%s); it stays in use",
                    connection.id, old_uri, exc)
        _store(connection, sub)
        return sub
    _store(connection, new)
    if old_uri and old_uri != new.get("uri"):
        delete_quietly(client, old_uri)
    return new


def delete_quietly(client, uri):
    try:
        client.delete_webhook_subscription(uri)
    except CalendlyError as exc:
        log.warning("could not delete webhook subscription %s: %s", uri, exc)


def _store(connection, sub):
    connection.webhook_subscription_uri = sub["uri"]
    connection.webhook_state = sub.get("state")
    connection.save(only=[CalendlyConnection.webhook_subscription_uri, CalendlyConnection.webhook_state])
