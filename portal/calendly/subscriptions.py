"""A connection's webhook subscription at Calendly: create, find, replace safely (SPEC C7).

The replacement of a disabled or lost subscription creates the new one
first and only then deletes the old one, so a failed create leaves the old
subscription in place. Calendly refuses a second subscription to the same
URL (409, API-FACTS §4); only then, when the old one is disabled and so
delivers nothing, is it deleted before the create is tried again.
"""
import logging
import secrets

from flask import current_app

from portal.calendly.client import CalendlyClient
from portal.calendly.errors import CalendlyError, NotFound
from portal.models import CalendlyConnection

log = logging.getLogger(__name__)

ACTIVE = "active"
MISSING = "missing"


def webhook_url(connection):
    """The per-connection callback route ``webhooks.calendly``."""
    return current_app.config["PORTAL_BASE_URL"].rstrip("/") + "/webhooks/calendly/" + connection.webhook_token


def new_signing_key():
    return secrets.token_urlsafe(32)


def subscribe(client, connection, signing_key):
    """Create the connection's subscription signed with ``signing_key``; returns Calendly's resource."""
    return client.create_webhook_subscription(webhook_url(connection), signing_key)


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


def ensure_webhook(connection, client=None, found=...):
    """Make sure Calendly has an active subscription for the connection; replace it safely if not.

    ``found`` is the subscription the caller already fetched (``find``), if any.
    """
    client = client or CalendlyClient(connection)
    sub = find(client, connection) if found is ... else found
    if state_of(sub) == ACTIVE:
        _store(connection, sub)
        return sub
    if not connection.signing_key:
        connection.signing_key = new_signing_key()
        connection.save(only=[CalendlyConnection.signing_key])
    old_uri = connection.webhook_subscription_uri if sub is not None else None
    new = subscribe(client, connection, connection.signing_key)  # raises: the old one stays
    if old_uri and new.get("uri") == old_uri:
        # Calendly answered 409 and the client handed back the old subscription, which holds the URL.
        client.delete_webhook_subscription(old_uri)
        old_uri = None
        new = subscribe(client, connection, connection.signing_key)
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
