"""The webhook subscription kept right (issue 17, SPEC C7).

A connection made before the portal subscribed to no-shows and event types
gets the new event list without a gap: the new subscription is created
first, the old one deleted after; a create that fails leaves the old one
delivering and is tried again at the next reconciliation. The intake answers
410 (and Calendly deletes the subscription) only for a connection that is
really gone, never for one waiting to be reconnected.
"""
import pytest

from portal.calendly import subscriptions
from portal.calendly.client import INVITEE_EVENTS, CalendlyClient
from portal.models import CalendlyConnection, DeliveryState, Status, WebhookDelivery
from portal.pipeline import reconcile

from .calendly_2026 import ada, fresh, uuid_of  # noqa: F401 - the fixture
from .helpers import wait_for

pytestmark = pytest.mark.slow


def live_subscriptions(sandbox):
    return {s["uri"]: s for s in sandbox.subscriptions() if not s["deleted"]}


def with_a_2025_subscription(ada):
    """Put the connection back on a subscription made before issue 17: invitee events, plain URL."""
    connection = fresh(CalendlyConnection, ada.connection)
    client = CalendlyClient(connection)
    plain_url = subscriptions.webhook_url(connection).split("?", 1)[0]
    old = client.create_webhook_subscription(plain_url, connection.signing_key, INVITEE_EVENTS)
    client.delete_webhook_subscription(connection.webhook_subscription_uri)
    CalendlyConnection.update(webhook_subscription_uri=old["uri"]).where(
        CalendlyConnection.id == connection.id).execute()
    return old


def test_an_old_subscription_is_replaced_without_a_gap_even_when_the_first_create_fails(ada):
    old = with_a_2025_subscription(ada)
    connection = fresh(CalendlyConnection, ada.connection)

    # Calendly fails every call while the replacement is created: the old subscription stays in use.
    ada.sandbox.faults(api_error_rate=1.0)
    kept = subscriptions.ensure_webhook(connection, CalendlyClient(connection), found=old)
    ada.sandbox.clear_faults()
    assert kept["uri"] == old["uri"] and fresh(CalendlyConnection, connection).webhook_subscription_uri == old["uri"]
    assert list(live_subscriptions(ada.sandbox)) == [old["uri"]]
    assert live_subscriptions(ada.sandbox)[old["uri"]]["state"] == "active"
    ada.book("Before Replacement", "before@example.com")  # deliveries still flow through the old one

    # The next reconciliation replaces it: new first, then the old one deleted.
    reconcile.run(connection.id)
    now = fresh(CalendlyConnection, connection)
    subs = live_subscriptions(ada.sandbox)
    assert list(subs) == [now.webhook_subscription_uri] and now.webhook_subscription_uri != old["uri"]
    new = subs[now.webhook_subscription_uri]
    assert set(new["events"]) == set(subscriptions.wanted_events()) and new["state"] == "active"
    (gone,) = [s for s in ada.sandbox.subscriptions() if s["uri"] == old["uri"]]
    assert gone["deleted"] and gone["deleted_at"] >= new["created_at"]
    appointment = ada.book("After Replacement", "after@example.com")
    ada.sandbox._call("POST", f"/invitees/{uuid_of(appointment.invitee_uri)}/no_show", json={})
    wait_for(lambda: appointment.__class__.get_by_id(appointment.id).no_show_at, timeout=20,
             message="a no-show through the new subscription")

    # Once current, a reconciliation leaves it alone.
    reconcile.run(connection.id)
    assert list(live_subscriptions(ada.sandbox)) == [now.webhook_subscription_uri]


def test_a_gone_connection_answers_410_and_calendly_deletes_its_subscription(ada):
    # A disconnect whose release at Calendly never happened: the subscription still delivers.
    uri = ada.connection.webhook_subscription_uri
    CalendlyConnection.update(status=Status.DISCONNECTED).where(CalendlyConnection.id == ada.connection.id).execute()
    ada.sandbox.book(ada.cleaning["uri"], "2031-01-06T10:00:00.000000Z", "Late Guest", "late@example.com")
    wait_for(lambda: uri not in live_subscriptions(ada.sandbox), timeout=20,
             message="the sandbox to delete the subscription after a 410")
    assert [d["status_code"] for d in ada.sandbox.deliveries() if d["subscription"] == uri] == [410]


def test_a_connection_waiting_to_be_reconnected_keeps_its_subscription(ada):
    uri = ada.connection.webhook_subscription_uri
    CalendlyConnection.update(status=Status.RECONNECT_NEEDED).where(
        CalendlyConnection.id == ada.connection.id).execute()
    booked = ada.sandbox.book(ada.cleaning["uri"], "2031-01-06T11:00:00.000000Z", "Kept Guest", "kept@example.com")
    delivery = wait_for(lambda: WebhookDelivery.get_or_none(WebhookDelivery.invitee_uri == booked["invitee"]),
                        timeout=20, message="the delivery to be stored")
    assert delivery.state != DeliveryState.REJECTED
    answers = wait_for(lambda: [d["status_code"] for d in ada.sandbox.deliveries()
                                if d["subscription"] == uri and d["invitee"] == booked["invitee"]],
                       timeout=20, message="the sandbox to record the portal's answer")
    assert answers == [200]
    assert live_subscriptions(ada.sandbox)[uri]["state"] == "active"
