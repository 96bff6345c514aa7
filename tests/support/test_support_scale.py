"""The console works with many connections and 100k+ decisions (SPEC S2; its speed is ``make bench``'s)."""
import random
import secrets
from datetime import timedelta

import pytest

from portal.extensions import db
from portal.models import CalendlyConnection, DeliveryState, Outcome, SyncDecision, User, WebhookDelivery
from portal.support.terms import SKIP_REASONS
from portal.timeutil import utcnow

from .console_helpers import API, text_of

pytestmark = pytest.mark.slow

CONNECTIONS, DECISIONS, DELIVERIES = 300, 120_000, 30_000


def _populate(people):
    rnd = random.Random(7)
    now = utcnow()
    with db.connection_context():
        subs = [people.subaccount(f"Clinic {i:03d}") for i in range(60)]
        with db.atomic():
            User.insert_many([{"email": f"user{i}@clinic.test", "password_hash": "x"} for i in range(CONNECTIONS)]
                             ).execute()
        users = list(User.select().where(User.email.endswith("@clinic.test")).order_by(User.id))
        with db.atomic():
            CalendlyConnection.insert_many([{
                "subaccount": subs[i % len(subs)].id, "user": users[i].id,
                "calendly_user_uri": f"{API}/users/U{i}", "calendly_email": f"cal{i}@calendly.test",
                "status": "connected", "webhook_token": secrets.token_urlsafe(16), "webhook_state": "active",
                "connected_at": now - timedelta(days=60),
            } for i in range(CONNECTIONS)]).execute()
        ids = [c.id for c in CalendlyConnection.select(CalendlyConnection.id)]
        rows = []
        for n in range(DECISIONS):
            cid = rnd.choice(ids)
            skipped = rnd.random() < 0.3
            rows.append({
                "connection": cid, "subaccount": subs[(cid - ids[0]) % len(subs)].id, "via": "webhook",
                "invitee_uri": f"{API}/scheduled_events/E{n}/invitees/I{n}", "event_uri": f"{API}/scheduled_events/E{n}",
                "invitee_email": f"guest{n}@example.com",
                "outcome": Outcome.SKIPPED if skipped else Outcome.IMPORTED,
                "reason": rnd.choice(SKIP_REASONS) if skipped else None, "rule": "W1" if skipped else "W2",
                "at": now - timedelta(minutes=rnd.randrange(60 * 24 * 30)),
            })
        with db.atomic():
            for i in range(0, len(rows), 2000):
                SyncDecision.insert_many(rows[i:i + 2000]).execute()
        rows = [{
            "connection": rnd.choice(ids), "received_at": now - timedelta(minutes=rnd.randrange(60 * 24 * 30)),
            "state": rnd.choice((DeliveryState.APPLIED,) * 20 + (DeliveryState.RECEIVED, DeliveryState.FAILED)),
            "invitee_uri": f"{API}/scheduled_events/E{n}/invitees/I{n}",
        } for n in range(DELIVERIES)]
        with db.atomic():
            for i in range(0, len(rows), 2000):
                WebhookDelivery.insert_many(rows[i:i + 2000]).execute()
        return ids


def _page(client, url):
    resp = client.get(url)
    assert resp.status_code == 200, url
    return text_of(resp.get_data(as_text=True))


def test_console_pages_work_at_scale(people, support_client):
    """300 connections, 120,000 decisions: each page still finds and counts right (speed: ``make bench``)."""
    ids = _populate(people)
    assert "300 connections" in _page(support_client, "/support/")
    # Clinics 010-019, five connections each.
    assert "50 connections · Connected matching “clinic 01”" in _page(
        support_client, "/support/?q=clinic+01&status=connected")
    last = _page(support_client, "/support/?page=6")
    assert "Page 6 of 6" in last and "@clinic.test" in last
    connection = _page(support_client, f"/support/connections/{ids[17]}")
    assert "user17@clinic.test" in connection and "cal17@calendly.test" in connection
    assert "1 booking found" in _page(support_client, f"/support/trace?q={API}/scheduled_events/E77/invitees/I77")
    assert "1 booking found" in _page(support_client, "/support/trace?q=guest4242@example.com")
    health = support_client.get("/support/api/connections").get_json()
    assert health["status_counts"] == {"connected": CONNECTIONS}
    assert sorted(c["id"] for c in health["connections"]) == sorted(ids)
    busiest = max(health["connections"], key=lambda c: c["bookings"]["7d"]["imported"])
    assert busiest["bookings"]["7d"]["imported"] > 0  # a week of the 30 days' decisions is counted
