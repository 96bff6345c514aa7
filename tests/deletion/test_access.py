"""Who may edit, disconnect and follow deletions; CSRF on the new routes (SPEC T2, T3, D5)."""
import re
import secrets

import pytest
from rq import Queue

from sync.helpers import private_redis  # noqa: F401 (fixture)

from portal.extensions import db
from portal.models import AuditEntry, CalendarSelection, CalendlyConnection, Status, Subaccount, Task
from portal.models.audit import record
from portal.timeutil import utcnow

from deletion_helpers import INDEX, SETTINGS


def make_connection(user, subaccount_name="Acme Dental", email=None):
    with db.connection_context():
        sub = Subaccount.get(Subaccount.name == subaccount_name)
        conn = CalendlyConnection.create(
            subaccount=sub, user=user, calendly_user_uri="https://api.calendly.test/users/" + secrets.token_hex(4),
            calendly_email=email or user.email.replace("acme", "calendly"), status=Status.CONNECTED,
            webhook_token=secrets.token_urlsafe(16), connected_at=utcnow())
        CalendarSelection.create(connection=conn, event_type_uri="https://api.calendly.test/event_types/intro",
                                 name="Intro call", selected_from=conn.connected_at, includes_backfill=True)
        task = Task.create(subaccount=sub, connection=conn, kind="purge_calendar", description="Intro call",
                           event_type_uri="https://api.calendly.test/event_types/intro", total=10, done=4,
                           state="running", requested_by=user)
        return conn, task


def urls(conn, task):
    return {"edit": f"{INDEX}/{conn.id}/edit", "disconnect": f"{INDEX}/{conn.id}/disconnect",
            "progress": f"{SETTINGS}/tasks/{task.id}", "retry": f"{SETTINGS}/tasks/{task.id}/retry"}


@pytest.fixture
def ann(people):
    return people.user("ann@acme.test")


def test_another_subaccounts_user_gets_404(client, people, auth, ann):
    conn, task = make_connection(ann)
    people.user("zed@other.test", subaccount="Other Clinic", role="admin")
    auth.login("zed@other.test")
    for name, url in urls(conn, task).items():
        # Retry takes POST only: a GET there is 405 for anyone, whatever the task.
        assert client.get(url).status_code == (405 if name == "retry" else 404), name
        if name != "progress":
            assert client.post(url, data={"answer": "delete"}).status_code == 404, name
    with db.connection_context():
        assert CalendlyConnection.get_by_id(conn.id).status == Status.CONNECTED


def test_a_plain_user_cannot_touch_another_members_connection(client, people, auth, ann):
    conn, task = make_connection(ann)
    people.user("bob@acme.test")
    auth.login("bob@acme.test")
    assert client.get(urls(conn, task)["edit"]).status_code == 404
    assert client.post(urls(conn, task)["edit"], data={"event_type": []}).status_code == 404
    assert client.get(urls(conn, task)["disconnect"]).status_code == 404
    assert client.post(urls(conn, task)["disconnect"], data={"answer": "delete"}).status_code == 404
    assert client.get(urls(conn, task)["progress"]).status_code == 404
    with db.connection_context():
        assert CalendlyConnection.get_by_id(conn.id).status == Status.CONNECTED


def test_an_admin_follows_every_deletion_but_edits_only_their_own_connection(client, people, auth, ann):
    conn, task = make_connection(ann)
    people.user("boss@acme.test", role="admin")
    auth.login("boss@acme.test")
    progress = client.get(urls(conn, task)["progress"], headers={"HX-Request": "true"})
    assert progress.status_code == 200 and 'aria-valuenow="40"' in progress.get_data(as_text=True)
    assert "40%" in progress.get_data(as_text=True)
    assert client.get(urls(conn, task)["edit"]).status_code == 404
    # Disconnect is the exception (issue 15): an admin may answer for a member; tested in tests/team.
    page = client.get(INDEX).get_data(as_text=True)
    assert "Deleting the events of <strong>Intro call</strong>" in page  # on the Connections page too


def test_activity_tab_is_for_admins(client, people, auth, ann):
    with db.connection_context():
        sub = Subaccount.get(Subaccount.name == "Acme Dental")
        record("calendar.delete", actor=ann, subaccount=sub, target="Intro call", count=1234,
               detail="Removed with Delete: its events are deleted")
        other = Subaccount.get_or_create(name="Other Clinic")[0]
        record("calendar.keep", actor=ann, subaccount=other, target="Secret calendar", count=9)
    auth.login("ann@acme.test")
    assert ">Activity</a>" not in client.get(INDEX).get_data(as_text=True)
    assert client.get(f"{SETTINGS}/activity").status_code == 404
    auth.logout()

    people.user("boss@acme.test", role="admin")
    auth.login("boss@acme.test")
    assert ">Activity</a>" in client.get(INDEX).get_data(as_text=True)
    page = client.get(f"{SETTINGS}/activity").get_data(as_text=True)
    assert "Removed a calendar, deleting its events" in page and "Intro call" in page and "1,234" in page
    assert "ann@acme.test" in page
    assert "Secret calendar" not in page  # another subaccount's entries stay there


def test_activity_empty_state(client, people, auth):
    people.user("boss@acme.test", role="admin")
    auth.login("boss@acme.test")
    page = client.get(f"{SETTINGS}/activity").get_data(as_text=True)
    assert "Nothing recorded yet." in page
    with db.connection_context():
        assert AuditEntry.select().count() == 0


@pytest.mark.csrf
def test_new_routes_need_the_csrf_token(client, ann):
    conn, task = make_connection(ann)
    signin = client.get("/signin").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', signin).group(1)
    client.post("/signin", data={"email": "ann@acme.test", "password": "password123", "csrf_token": token})
    assert client.get(INDEX).status_code == 200
    u = urls(conn, task)
    assert client.post(u["edit"], data={"event_type": [], "step": "confirm"}).status_code == 400
    assert client.post(u["disconnect"], data={"answer": "delete"}).status_code == 400
    assert client.post(u["retry"]).status_code == 400
    # HTMX requests carry it in X-CSRFToken: with it the same request gets through.
    page = client.get(INDEX).get_data(as_text=True)
    header = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    resp = client.post(u["disconnect"], headers={"X-CSRFToken": header, "HX-Request": "true"})
    # Past CSRF: nothing was imported from its calendars, so there is nothing to ask and Disconnect runs.
    assert resp.status_code < 400
    with db.connection_context():
        assert CalendlyConnection.get_by_id(conn.id).status == Status.DISCONNECTED


def test_support_staff_see_the_choices_in_the_console_audit_log(client, people, auth, ann):
    with db.connection_context():
        sub = Subaccount.get(Subaccount.name == "Acme Dental")
        record("calendar.delete", actor=ann, subaccount=sub, target="Intro call", count=12,
               detail="Removed with Delete: its events are deleted")
        record("connection.disconnect", actor=ann, subaccount=sub, target="ann@calendly.test", count=1)
    people.user("sam@agency.test", subaccount=None, support=True)
    auth.login("sam@agency.test")
    page = client.get("/support/audit").get_data(as_text=True)
    for text in ("calendar.delete", "connection.disconnect", "Intro call", "ann@acme.test", "Acme Dental"):
        assert text in page


def test_a_failed_deletion_can_be_tried_again_from_the_page(client, auth, ann, private_redis):  # noqa: F811
    conn, task = make_connection(ann)
    with db.connection_context():
        Task.update(state="failed", error="Deleting stopped on an error: disk I/O error").where(
            Task.id == task.id).execute()
    auth.login("ann@acme.test")
    fragment = client.get(urls(conn, task)["progress"], headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 286 and "disk I/O error" in body and ">Try again</button>" in body
    resp = client.post(urls(conn, task)["retry"], headers={"HX-Request": "true"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Waiting to start" in body and 'hx-trigger="every 1s"' in body
    (job,) = Queue("bulk", connection=private_redis).jobs
    assert job.id == f"purge-{task.id}"
