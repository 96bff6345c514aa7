"""The web app under attack: CSRF, another subaccount's objects, staff-only pages, sessions (SPEC T2, T3, S2).

Routes are enumerated from ``app.url_map``, so a route added later is
covered without touching this file (and an unknown URL argument fails the
test until someone says which object it names).
"""
import re
import time
from datetime import timedelta

import pytest

from portal.models import (
    Appointment,
    CalendlyConnection,
    Contact,
    Enrolment,
    FollowUpTask,
    Notification,
    Invitation,
    Membership,
    OutboundEmail,
    Source,
    Status,
    Subaccount,
    Task,
    User,
    Workflow,
    WorkflowStep,
)
from portal.models import ALL_MODELS
from portal.timeutil import utcnow
from sync.helpers import make_connection

from .helpers import url_for_rule

pytestmark = pytest.mark.reliability

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# Calendly's deliveries, verified by signature (C7); RFC 8058 one-click unsubscribe, verified by the link's signature.
NOT_CSRF_PROTECTED = {"webhooks.calendly", "emails.unsubscribe"}
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM = {"title": "Hacked", "start": "2030-01-01T10:00", "end": "2030-01-01T10:30", "contact_email": "x@evil.test",
        "contact_name": "X", "subaccount_id": "1", "reflect_cancellations": "on", "consent": "yes",
        "event_type": "https://api.calendly.com/event_types/X", "answer": "delete", "confirm": "yes"}


def routes(app, *, methods=None, endpoint_prefix=None):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static" or rule.endpoint in NOT_CSRF_PROTECTED:
            continue
        if endpoint_prefix and not rule.endpoint.startswith(endpoint_prefix):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if methods is None or method in methods:
                yield rule, method


def snapshot():
    return {model.__name__: model.select().count() for model in ALL_MODELS}


def sign_in(client, email):
    page = client.get("/signin").get_data(as_text=True)
    token = CSRF_FIELD.search(page).group(1)
    resp = client.post("/signin", data={"email": email, "password": "password123", "csrf_token": token})
    assert resp.status_code == 302, resp.status_code


@pytest.fixture
def two_subaccounts(app_ctx, people):
    """Alice administers Acme Dental; Bob's Beta Clinic has one object of every kind."""
    alice = people.user("alice@acme.test", role="admin")
    people.user("carl@acme.test", role="user")
    bob = people.user("bob@beta.test", subaccount="Beta Clinic", role="admin")
    beta = Subaccount.get(name="Beta Clinic")
    acme = Subaccount.get(name="Acme Dental")
    start = (utcnow() + timedelta(days=1)).replace(microsecond=0)
    contact = Contact.create(subaccount=beta, email="secret@beta.test", email_normalized="secret@beta.test",
                             name="Beta Secret Patient")
    manual = Appointment.create(subaccount=beta, source=Source.PORTAL, title="Beta private visit", start=start,
                                end=start + timedelta(minutes=30), contact=contact, owner=bob)
    imported = Appointment.create(subaccount=beta, source=Source.CALENDLY, title="Beta Calendly visit",
                                  start=start, end=start + timedelta(minutes=30), contact=contact, owner=bob,
                                  invitee_uri="https://api.calendly.com/scheduled_events/E/invitees/I")
    connection = make_connection(bob, beta, signing_key="beta-signing-key")
    mine = Appointment.create(subaccount=acme, source=Source.PORTAL, title="Acme visit", start=start,
                              end=start + timedelta(minutes=30), owner=alice)
    my_contact = Contact.create(subaccount=acme, email="p@acme.test", email_normalized="p@acme.test", name="P")
    my_connection = make_connection(alice, acme, signing_key="acme-signing-key")
    task = Task.create(subaccount=beta, connection=connection, kind="purge_calendar", description="Beta purge",
                       state="failed", requested_by=bob)
    my_task = Task.create(subaccount=acme, connection=my_connection, kind="purge_calendar", description="Purge",
                          state="failed", requested_by=alice)
    email = OutboundEmail.create(subaccount=beta, kind="contact", recipient="secret@beta.test", subject="Beta note",
                                 text_body="Beta", html_body="<p>Beta</p>", message_id="<beta@calbridge.test>")
    my_email = OutboundEmail.create(subaccount=acme, kind="contact", recipient="p@acme.test", subject="Note",
                                    text_body="Hi", html_body="<p>Hi</p>", message_id="<acme@calbridge.test>")
    workflows = {}
    for key, sub, owner, who in (("theirs", beta, bob, contact), ("mine", acme, alice, my_contact)):
        w = Workflow.create(subaccount=sub, name=f"{sub.name} flow")
        step = WorkflowStep.create(workflow=w, position=0, kind="add_tag", config='{"tag": "x"}')
        e = Enrolment.create(workflow=w, subaccount=sub, contact=who, state="failed")
        follow_up = FollowUpTask.create(subaccount=sub, contact=who, title=f"{sub.name} follow-up", assignee=owner)
        note = Notification.create(subaccount=sub, user=owner, text=f"{sub.name} note")
        workflows[key] = {"workflow_id": w.id, "step_id": step.id, "enrolment_id": e.id,
                          "follow_up_id": follow_up.id, "notification_id": note.id}
    # Signed links (reset, unsubscribe) are not objects of a subaccount: a link not signed by us is a 404.
    token = "not-a-signed-link"
    # Team and Agency routes (issue 15): a member and the subaccount itself.
    theirs_invited = Invitation.create(subaccount=beta, email="new@beta.test", invited_by=bob)
    mine_invited = Invitation.create(subaccount=acme, email="new@acme.test", invited_by=alice)
    team_theirs = {"membership_id": Membership.get(user=bob, subaccount=beta).id, "subaccount_id": beta.id,
                   "invitation_id": theirs_invited.id}
    team_mine = {"membership_id": Membership.get(user=alice, subaccount=acme).id, "subaccount_id": acme.id,
                 "invitation_id": mine_invited.id}
    return {
        "alice": alice, "bob": bob, "beta": beta, "acme": acme,
        "theirs": [{"appointment_id": manual.id, "contact_id": contact.id, "connection_id": connection.id,
                    "task_id": task.id, "email_id": email.id, "token": token, **workflows["theirs"], **team_theirs},
                   {"appointment_id": imported.id, "contact_id": contact.id, "connection_id": connection.id,
                    "task_id": task.id, "email_id": email.id, "token": token, **workflows["theirs"], **team_theirs}],
        "mine": {"appointment_id": mine.id, "contact_id": my_contact.id, "connection_id": my_connection.id,
                 "task_id": my_task.id, "email_id": my_email.id, "token": token, **workflows["mine"], **team_mine},
    }


# ---------------------------------------------------------------- CSRF (T3)
@pytest.mark.csrf
def test_every_state_changing_route_refuses_requests_without_a_valid_csrf_token(app, client, two_subaccounts,
                                                                               reliability_report):
    sign_in(client, "alice@acme.test")
    before = snapshot()
    checked = []
    for rule, method in routes(app, methods=STATE_CHANGING):
        url = url_for_rule(rule, two_subaccounts["mine"])
        attempts = {
            "form without token": dict(data=FORM),
            "HTMX without token": dict(data=FORM, headers={"HX-Request": "true"}),
            "HTMX with a forged token": dict(data=FORM, headers={"HX-Request": "true", "X-CSRFToken": "forged"}),
            "form with a forged token": dict(data={**FORM, "csrf_token": "forged"}),
        }
        for how, kwargs in attempts.items():
            resp = client.open(url, method=method, **kwargs)
            assert resp.status_code == 400, f"{method} {url} ({how}): {resp.status_code}"
        checked.append(f"{method} {rule.rule}")
    assert {"POST /signout", "POST /switch", "POST /calendars/appointments/new"} <= set(checked)
    assert snapshot() == before
    assert client.get("/dashboard").status_code == 200  # the refused sign-out did not sign anyone out
    reliability_report.check(f"CSRF: {len(checked)} state-changing routes (forms and HTMX)", "all refused with 400")


@pytest.mark.csrf
def test_sign_in_itself_needs_a_csrf_token(client, people):
    people.user("alice@acme.test")
    assert client.post("/signin", data={"email": "alice@acme.test", "password": "password123"}).status_code == 400
    assert client.get("/dashboard").status_code == 302


# ---------------------------------------------------------------- tenancy (T2)
def test_another_subaccounts_objects_are_404_by_every_route_and_method(app, client, auth, two_subaccounts,
                                                                        reliability_report):
    auth.login("alice@acme.test")
    beta = two_subaccounts["beta"]
    titles = {a.id: (a.title, a.status) for a in Appointment.select().where(Appointment.subaccount == beta)}
    checked = 0
    for rule, method in routes(app):
        if not rule.arguments:
            continue
        for ids in two_subaccounts["theirs"]:
            url = url_for_rule(rule, ids)
            resp = client.open(url, method=method, data=FORM, headers={"Accept": "text/html"})
            assert resp.status_code == 404, f"{method} {url}: {resp.status_code}"
            assert "Beta" not in resp.get_data(as_text=True)
            checked += 1
    assert {a.id: (a.title, a.status) for a in Appointment.select().where(Appointment.subaccount == beta)} == titles
    assert Contact.select().where(Contact.subaccount == beta).count() == 1
    assert CalendlyConnection.get(CalendlyConnection.subaccount == beta).status == Status.CONNECTED

    # Nor do lists and searches reveal them, and one cannot switch into Beta.
    for page in ("/dashboard", "/calendars/", "/calendars/?when=past", "/contacts/", "/contacts/?q=secret",
                 "/calendars/week", "/calendars/settings/connections"):
        text = client.get(page).get_data(as_text=True)
        assert "Beta" not in text and "secret@beta.test" not in text, page
    assert client.post("/switch", data={"subaccount_id": beta.id}).status_code == 404
    reliability_report.check(f"Tenancy: {checked} requests for another subaccount's objects", "all 404")


@pytest.mark.parametrize("who", ["carl@acme.test", "alice@acme.test"], ids=["plain user", "subaccount admin"])
def test_support_console_is_404_for_anyone_but_support_staff(app, client, auth, two_subaccounts, who,
                                                              reliability_report):
    auth.login(who)
    ids = two_subaccounts["mine"]
    checked = 0
    for rule, method in routes(app, endpoint_prefix="support."):
        resp = client.open(url_for_rule(rule, ids), method=method, data=FORM)
        assert resp.status_code == 404, f"{method} {rule.rule}: {resp.status_code}"
        checked += 1
    assert checked >= 5
    reliability_report.check(f"Support console for a {'plain user' if 'carl' in who else 'subaccount admin'}",
                             f"{checked} routes, all 404")


def test_plain_user_cannot_use_admin_powers(client, auth, two_subaccounts, reliability_report):
    auth.login("carl@acme.test")
    alices = two_subaccounts["mine"]["connection_id"]
    assert client.get(f"/calendars/settings/connections/{alices}/status").status_code == 404
    assert client.get(f"/calendars/settings/connections/{alices}/calendars").status_code == 404
    resp = client.post("/calendars/settings/preferences", data={"reflect_cancellations": "on"})
    assert resp.status_code == 403 and "Only an admin" in resp.get_data(as_text=True)
    assert Subaccount.get(name="Acme Dental").reflect_cancellations is False
    reliability_report.check("Admin powers for a plain user", "another member's connection 404, preferences refused")


# ---------------------------------------------------------------- sessions (T3)
def test_sign_in_issues_a_new_session_and_a_planted_one_stays_anonymous(app, client, people, two_subaccounts,
                                                                       reliability_report):
    client.get("/signin")
    with client.session_transaction() as s:
        s["subaccount_id"] = two_subaccounts["beta"].id  # planted by an attacker
        s["_user_id"] = str(two_subaccounts["bob"].id)  # without a valid signature-bound login this means nothing
    planted = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    resp = client.post("/signin", data={"email": "carl@acme.test", "password": "password123"})
    assert resp.status_code == 302
    fresh = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    assert fresh != planted
    with client.session_transaction() as s:
        assert "subaccount_id" not in s and s.get("_user_id") == User.get(email="carl@acme.test").get_id()
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Beta" not in page
    reliability_report.check("Session fixation", "a new session on sign-in; planted values dropped")


def test_repeated_wrong_passwords_lock_the_account_for_a_while(app, client, people, auth, reliability_report):
    from portal.auth.throttle import _keys
    from portal.queues import get_redis

    people.user("carl@acme.test")
    statuses = [auth.login("carl@acme.test", "wrong-password").status_code for _ in range(5)]
    assert statuses == [401] * 5
    locked = auth.login("carl@acme.test", "password123")
    assert locked.status_code == 429 and "Too many failed attempts" in locked.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302
    with app.app_context():
        redis, address_key = get_redis(), _keys("carl@acme.test", None)[0]
        # The lock is for a while: it expires on its own after SIGNIN_LOCKOUT_SECONDS.
        assert 0 < redis.ttl(address_key) <= app.config["SIGNIN_LOCKOUT_SECONDS"]
        redis.pexpire(address_key, 1)  # its time is up (Redis expires it, as it would after 5 minutes)
        deadline = time.monotonic() + 10
        while redis.exists(address_key) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert auth.login("carl@acme.test", "password123").status_code == 302  # the lock lifts when its time is up
    reliability_report.check("Brute-force sign-in", "5 failures lock the account (429), even the right password")


def test_a_session_cookie_copied_before_sign_out_is_dead_after_it(app, client, people, auth):
    people.user("carl@acme.test")
    auth.login("carl@acme.test")
    copied = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    auth.logout()
    thief = app.test_client()
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], copied)
    assert thief.get("/dashboard").status_code == 302
