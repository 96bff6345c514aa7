"""The Connections and Preferences pages (SPEC C1, S1, E4) and their tenant isolation (T2)."""
import re
import secrets

import pytest

from portal.extensions import db
from portal.models import CalendarSelection, CalendlyConnection, Status, Subaccount
from portal.timeutil import utcnow

from connections_helpers import INDEX, flashes

PREFERENCES = "/calendars/settings/preferences"


def make_connection(user, subaccount_name="Acme Dental", status=Status.CONNECTED, email="ann@calendly.test",
                    calendars=("Intro call",), **fields):
    with db.connection_context():
        sub = Subaccount.get(Subaccount.name == subaccount_name)
        now = utcnow()
        conn = CalendlyConnection.create(
            subaccount=sub, user=user, calendly_user_uri="https://api.calendly.test/users/" + secrets.token_hex(4),
            calendly_email=email, calendly_name=email.split("@")[0].title(), plan="teams", stage="paid",
            access_token="secret-access-" + secrets.token_hex(8), refresh_token="secret-refresh-" + secrets.token_hex(8),
            status=status, webhook_token=secrets.token_urlsafe(16),
            connected_at=None if status == Status.PENDING else now, **fields)
        for name in calendars if status != Status.PENDING else ():
            CalendarSelection.create(connection=conn, event_type_uri="https://api.calendly.test/event_types/" + name,
                                     name=name, shared=name.startswith("Team"), selected_from=now,
                                     includes_backfill=True)
        return conn


@pytest.fixture
def ann(people, auth):
    user = people.user("ann@acme.test")
    auth.login("ann@acme.test")
    return user


def test_empty_state_and_tabs(client, ann):
    page = client.get(INDEX).get_data(as_text=True)
    assert "No calendar connected yet." in page and "Add New" in page
    for tab in (">Appointments<", ">Week<", ">Calendar Settings<", ">Connections<", ">Preferences<"):
        assert tab in page
    assert client.get("/calendars/settings/").headers["Location"].endswith(INDEX)


def test_add_new_opens_the_provider_chooser(client, ann):
    fragment = client.get(INDEX + "/new", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and "Add a calendar connection" in fragment
    assert 'aria-label="Calendly"' in fragment and ">Connect</button>" in fragment
    assert fragment.count("Not available") == 2 and "Google Calendar" in fragment and "Outlook" in fragment
    # Without HTMX the same chooser opens over the full page.
    page = client.get(INDEX + "/new").get_data(as_text=True)
    assert "<html" in page and "Add a calendar connection" in page


def test_connected_row_shows_account_plan_calendars_and_status(client, ann):
    conn = make_connection(ann, calendars=("Intro call", "Team intake"), last_webhook_at=utcnow())
    page = client.get(INDEX).get_data(as_text=True)
    assert "ann@calendly.test" in page and "Teams" in page
    assert "Intro call" in page and "Team intake" in page and "badge-shared" in page
    assert '<span class="badge badge-connected">Connected</span>' in page
    assert "Last booking received" in page
    assert conn.access_token not in page and conn.refresh_token not in page


def test_statuses_that_need_the_owner_say_why(client, ann):
    make_connection(ann, status=Status.RECONNECT_NEEDED,
                    last_error="Calendly refused to renew access (invalid_grant). Connect Calendly again.")
    page = client.get(INDEX).get_data(as_text=True)
    # What happened and what to do, in words; the OAuth code stays in the support console.
    assert "Reconnect needed" in page and "no longer accepts this connection&#39;s sign-in" in page
    assert "invalid_grant" not in page and ">Reconnect</button>" in page


def test_pending_connection_offers_to_finish_setup(client, ann):
    make_connection(ann, status=Status.PENDING)
    page = client.get(INDEX).get_data(as_text=True)
    assert "Setup not finished" in page and "Choose calendars" in page


def test_importing_progress_polls_until_done(client, ann):
    conn = make_connection(ann, status=Status.IMPORTING, backfill_total=40, backfill_done=10)
    page = client.get(INDEX).get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in page and 'aria-valuenow="25"' in page and "10 of 40 bookings imported" in page

    url = f"{INDEX}/{conn.id}/status"
    resp = client.get(url, headers={"HX-Request": "true"})
    assert resp.status_code == 200 and 'hx-trigger="every 2s"' in resp.get_data(as_text=True)

    with db.connection_context():
        CalendlyConnection.update(status=Status.CONNECTED, backfill_done=40).where(
            CalendlyConnection.id == conn.id).execute()
    resp = client.get(url, headers={"HX-Request": "true"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 286 and "Connected" in body and "every 2s" not in body


def test_admin_sees_other_members_connections_and_may_only_disconnect_them(client, people, auth):
    people.user("boss@acme.test", role="admin")
    bob = people.user("bob@acme.test")
    conn = make_connection(bob, email="bob@calendly.test", calendars=("Bob's calls",))
    auth.login("boss@acme.test")
    page = client.get(INDEX).get_data(as_text=True)
    assert "Other members' connections" in page and "bob@calendly.test" in page and "Bob&#39;s calls" in page
    assert "No calendar connected yet." in page  # the admin's own row is still empty
    # Bob's calendars are his to edit; only Disconnect is offered, answering for him (issue 15).
    assert 'aria-label="Edit"' not in page and f"{INDEX}/{conn.id}/edit" not in page
    assert client.get(f"{INDEX}/{conn.id}/edit").status_code == 404
    assert "Disconnect Bob's Calendly" in page
    assert client.get(f"{INDEX}/{conn.id}/disconnect").status_code == 200


def test_plain_user_does_not_see_other_members(client, ann, people):
    bob = people.user("bob@acme.test")
    make_connection(bob, email="bob@calendly.test")
    page = client.get(INDEX).get_data(as_text=True)
    assert "bob@calendly.test" not in page and "Other members" not in page


def test_connections_of_another_subaccount_are_404(client, people, auth):
    stranger = people.user("zed@other.test", subaccount="Other Clinic")
    conn = make_connection(stranger, subaccount_name="Other Clinic", status=Status.PENDING)
    importing = make_connection(people.user("yan@other.test", subaccount="Other Clinic"),
                                subaccount_name="Other Clinic", status=Status.IMPORTING, email="yan@calendly.test")
    people.user("admin@acme.test", role="admin")
    auth.login("admin@acme.test")
    assert client.get(f"{INDEX}/{conn.id}/calendars").status_code == 404
    assert client.get(f"{INDEX}/{conn.id}/calendars", headers={"HX-Request": "true"}).status_code == 404
    assert client.post(f"{INDEX}/{conn.id}/calendars", data={"consent": "yes"}).status_code == 404
    assert client.get(f"{INDEX}?select={conn.id}").status_code == 404
    assert client.get(f"{INDEX}/{importing.id}/status").status_code == 404
    with db.connection_context():
        assert CalendlyConnection.get_by_id(conn.id).status == Status.PENDING


def test_another_members_selection_is_404_even_in_the_same_subaccount(client, people, ann):
    bob = people.user("bob@acme.test")
    conn = make_connection(bob, status=Status.PENDING, email="bob@calendly.test")
    assert client.get(f"{INDEX}/{conn.id}/calendars").status_code == 404
    assert client.get(f"{INDEX}/{conn.id}/status").status_code == 404


def test_preferences_admin_can_turn_reflect_cancellations_on(client, people, auth):
    people.user("boss@acme.test", role="admin")
    auth.login("boss@acme.test")
    page = client.get(PREFERENCES).get_data(as_text=True)
    assert "Reflect cancellations and reschedules" in page and "disabled" not in page.split("reflect_cancellations")[1][:200]
    resp = client.post(PREFERENCES, data={"reflect_cancellations": "on"})
    assert resp.status_code == 302
    assert "Preferences saved." in flashes(client.get(PREFERENCES).get_data(as_text=True))
    with db.connection_context():
        assert Subaccount.get(Subaccount.name == "Acme Dental").reflect_cancellations is True
    client.post(PREFERENCES, data={})
    with db.connection_context():
        assert Subaccount.get(Subaccount.name == "Acme Dental").reflect_cancellations is False


def test_preferences_are_read_only_for_plain_users(client, ann):
    page = client.get(PREFERENCES).get_data(as_text=True)
    assert "Reflect cancellations and reschedules" in page and "Only admins of Acme Dental can change" in page
    assert ">Save</button>" not in page
    resp = client.post(PREFERENCES, data={"reflect_cancellations": "on"})
    assert resp.status_code == 403
    assert "Only an admin of this subaccount can change its preferences." in resp.get_data(as_text=True)
    with db.connection_context():
        assert Subaccount.get(Subaccount.name == "Acme Dental").reflect_cancellations is False


@pytest.mark.csrf
def test_connect_and_save_need_the_csrf_token(client, people):
    ann = people.user("ann@acme.test")
    signin = client.get("/signin").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', signin).group(1)
    client.post("/signin", data={"email": "ann@acme.test", "password": "password123", "csrf_token": token})
    assert client.get(INDEX).status_code == 200  # signed in
    assert client.post("/calendars/settings/connections/calendly/connect").status_code == 400
    conn = make_connection(ann, status=Status.PENDING)
    assert client.post(f"{INDEX}/{conn.id}/calendars", data={"consent": "yes"}).status_code == 400
    assert client.post(PREFERENCES, data={}).status_code == 400


def test_pages_need_sign_in(client):
    assert client.get(INDEX).status_code == 302
    assert client.get("/connections/calendly/callback?code=x&state=y").status_code == 302
