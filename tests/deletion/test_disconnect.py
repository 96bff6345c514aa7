"""Disconnecting Calendly (SPEC D3, C7, W5, D5): one answer for every calendar, access removed at Calendly."""
import pytest
from rq import Queue

from jobs.deletion import release_connection
from sync.helpers import connect_via_sandbox, post_delivery, private_redis, wait_for  # noqa: F401 (fixture)

from portal.models import AuditEntry, CalendlyConnection, Contact, Status, WebhookDelivery

from deletion_helpers import (
    appointment,
    count,
    disconnect_url,
    flashes,
    page,
    wait_for_appointment,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def ann_connected(team, auth, worker):
    team.booked = [team.book(team.cleaning), team.book(team.whitening), team.book(team.intake)]
    team.conn = team.connect(team.ann, "ann@cal.test", ["Cleaning", "Whitening", "Team intake"])
    for invitee in team.booked:
        assert appointment(invitee) is not None
    auth.login("ann@acme.test")
    return team


def test_disconnect_asks_once_for_every_calendar(ann_connected, client):
    team = ann_connected
    question = client.get(disconnect_url(team.conn), headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Disconnect Calendly" in question and "Delete all events synced from these calendars?" in question
    for name in ("Cleaning", "Whitening", "Team intake"):
        assert f"<strong>{name}</strong>" in question
    assert "All events synced from Calendly (3 events)" in question
    assert question.count(">Keep</label>") == 1 and question.count(">Delete permanently</label>") == 1

    resp = client.post(disconnect_url(team.conn), headers={"HX-Request": "true"})
    assert resp.status_code == 422 and "Choose Keep or Delete permanently" in resp.get_data(as_text=True)
    assert CalendlyConnection.get_by_id(team.conn.id).status == Status.CONNECTED


def test_disconnect_with_delete_removes_everything_and_access_at_calendly(ann_connected, client, sandbox, stack):
    team = ann_connected
    contacts = Contact.select().count()
    resp = client.post(disconnect_url(team.conn), data={"answer": "delete"}, headers={"HX-Request": "true"})
    assert resp.status_code == 200 and resp.headers["HX-Redirect"].endswith("/calendars/settings/connections")

    text = page(client)
    assert ("success", "Calendly disconnected (ann@cal.test). Calbridge no longer receives its bookings.") \
        in flashes(text)
    assert "No calendar connected yet." in text  # the row left the list...
    assert "badge-disconnected" in text and "you chose Delete" in text  # ...for the Disconnected history
    wait_for(lambda: count(team.cleaning) + count(team.whitening) + count(team.intake) == 0, timeout=20,
             message="the purges")
    assert Contact.select().count() == contacts

    conn = CalendlyConnection.get_by_id(team.conn.id)
    assert conn.status == Status.DISCONNECTED and conn.disconnected_at is not None
    assert conn.access_token is None and conn.refresh_token is None and conn.webhook_state == "deleted"
    (subscription,) = [s for s in sandbox.subscriptions() if s["uri"] == conn.webhook_subscription_uri]
    assert subscription["deleted"] is True
    tokens = [t for t in sandbox.tokens() if t["user"].endswith(conn.calendly_user_uri.rsplit("/", 1)[1])]
    assert tokens and all(t["revoked"] or t.get("rotated") for t in tokens)

    # A delivery to the old address is refused (the intake answers 410).
    resp = post_delivery(client, conn, b'{"event": "invitee.created"}', key="conn-signing-key")
    assert resp.status_code == 410
    assert WebhookDelivery.select().order_by(WebhookDelivery.id.desc()).first().state == "rejected"

    entry = AuditEntry.get(AuditEntry.action == "connection.disconnect")
    assert (entry.actor_id, entry.target, entry.count) == (team.ann.id, "ann@cal.test", 3)


def test_disconnect_with_keep_leaves_appointments_and_reconnecting_backfills_again(ann_connected, client, stack):
    """W5: a new connection, a new backfill from the new connection time; C3/C4 ignore the old row."""
    team = ann_connected
    client.post(disconnect_url(team.conn), data={"answer": "keep"}, headers={"HX-Request": "true"})
    assert count(team.cleaning) == 1 and count(team.whitening) == 1
    assert ("success", "The 3 events imported from it stay in Calbridge.") in flashes(page(client))

    while_away = team.book(team.cleaning)  # made while disconnected: no webhook reaches Calbridge
    assert appointment(while_away) is None

    again = connect_via_sandbox(stack, team.ann, team.sub, "ann@cal.test", ["Cleaning"])
    assert again.id != team.conn.id and again.connected_at > team.conn.connected_at
    wait_for_appointment(while_away, timeout=20)  # the new backfill (W2 from the new connected_at)
    wait_for(lambda: CalendlyConnection.get_by_id(again.id).status == Status.CONNECTED, timeout=20,
             message="the new import")
    assert CalendlyConnection.get_by_id(team.conn.id).status == Status.DISCONNECTED
    assert count(team.cleaning) == 2
    text = page(client)
    assert "ann@cal.test" in text and "badge-connected" in text and "badge-disconnected" in text


def test_pending_connection_disconnects_without_a_question(team, client, auth, stack, sandbox):
    from sync.helpers import authorization_code, exchange_code

    from portal.connections import service

    redirect_uri = stack["portal_url"] + "/connections/calendly/callback"
    code, verifier = authorization_code(stack["sandbox_url"], stack["creds"]["client_id"], redirect_uri,
                                        "ann@cal.test")
    conn, _ = service.connect_from_oauth(team.ann, team.sub, exchange_code(stack, code, verifier, redirect_uri))
    auth.login("ann@acme.test")
    question = client.get(disconnect_url(conn), headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "No calendars were chosen yet, so nothing was imported." in question
    client.post(disconnect_url(conn), headers={"HX-Request": "true"})
    assert CalendlyConnection.get_or_none(CalendlyConnection.id == conn.id) is None
    assert all(t["revoked"] for t in sandbox.tokens())
    assert "No calendar connected yet." in page(client)


def test_calendly_unreachable_during_disconnect_is_retried_in_the_background(ann_connected, private_redis,  # noqa: F811
                                                                             client, sandbox):
    team = ann_connected
    sandbox.faults(api_error_rate=1)
    resp = client.post(disconnect_url(team.conn), data={"answer": "keep"}, headers={"HX-Request": "true"})
    assert resp.status_code == 200
    assert ("warning", "Calendly could not be reached to remove Calbridge's access; it is retried in the "
                       "background.") in flashes(page(client))
    conn = CalendlyConnection.get_by_id(team.conn.id)
    assert conn.status == Status.DISCONNECTED and conn.refresh_token  # kept until Calendly has revoked it
    (job,) = Queue("default", connection=private_redis).jobs
    assert (job.id, job.func_name, job.args) == (f"release-{conn.id}", "jobs.deletion.release_connection", (conn.id,))

    sandbox.clear_faults()
    assert release_connection(conn.id) is True
    conn = CalendlyConnection.get_by_id(conn.id)
    assert conn.access_token is None and conn.refresh_token is None and conn.status == Status.DISCONNECTED
    (subscription,) = [s for s in sandbox.subscriptions() if s["uri"] == conn.webhook_subscription_uri]
    assert subscription["deleted"] is True


def test_disconnect_works_when_calendly_already_revoked_the_access(ann_connected, client, sandbox):
    team = ann_connected
    sandbox.revoke_all_tokens(team.conn.calendly_user_uri)
    resp = client.post(disconnect_url(team.conn), data={"answer": "keep"}, headers={"HX-Request": "true"})
    assert resp.status_code == 200
    assert ("success", "Calendly disconnected (ann@cal.test). Calbridge no longer receives its bookings.") \
        in flashes(page(client))
    conn = CalendlyConnection.get_by_id(team.conn.id)
    assert conn.status == Status.DISCONNECTED  # not turned to Reconnect needed by the refused refresh
    assert conn.access_token is None and conn.refresh_token is None


def test_a_double_submitted_disconnect_is_applied_once(ann_connected):
    from portal.pipeline import disconnect

    team = ann_connected
    stale = CalendlyConnection.get_by_id(team.conn.id)  # what a second, simultaneous request had loaded
    disconnect.disconnect(team.conn, "delete", team.ann.id)
    assert disconnect.disconnect(stale, "keep", team.ann.id) == [("info", disconnect.ALREADY)]
    assert AuditEntry.select().where(AuditEntry.action == "connection.disconnect").count() == 1
    assert not AuditEntry.select().where(AuditEntry.action == "calendar.keep").exists()
