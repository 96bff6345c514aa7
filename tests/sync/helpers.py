"""Reusable test helpers for the sync engine (and anyone who needs a live connection).

- ``connect_via_sandbox``: a real connection through the sandbox's OAuth
  (sign-in form, Allow, code exchange with PKCE) and the portal's own connect
  service (first Save: webhook subscription, selection periods, backfill job);
- ``make_connection`` / ``select``: rows straight in the database for unit tests;
- ``booking`` / ``envelope`` / ``post_delivery``: Calendly-shaped data and signed deliveries;
- ``wait_for``: poll until a condition holds;
- ``private_redis``: a fixture giving the test a Redis database no worker listens on.
"""
import base64
import hashlib
import html
import json
import re
import secrets
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from portal.calendly import signatures
from portal.extensions import db
from portal.models import CalendarSelection, CalendlyConnection, Status
from portal.queues import get_redis
from portal.sync.booking import Booking
from portal.timeutil import to_iso, utcnow

API = "https://api.calendly.com"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


# ---------------------------------------------------------------- isolation
@pytest.fixture
def private_redis(app, stack):
    """Point the app at its own Redis database, so the session's worker (database 0) never takes its jobs."""
    app.config["REDIS_URL"] = stack["redis_url"].rsplit("/", 1)[0] + "/1"
    with app.app_context():
        redis = get_redis()
    redis.flushdb()
    yield redis
    redis.flushdb()


# ---------------------------------------------------------------- waiting
def wait_for(predicate, timeout=10.0, interval=0.05, message="condition"):
    """Call ``predicate`` (inside a fresh DB connection) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        with db.connection_context():
            last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message} (last: {last!r})")


# ---------------------------------------------------------------- rows for unit tests
def make_connection(user, subaccount, *, uri=None, status=Status.CONNECTED, connected_at=None,
                    signing_key="conn-signing-key", **fields):
    """A connection row as the first Save leaves it (no Calendly behind it)."""
    token = secrets.token_urlsafe(12)
    return CalendlyConnection.create(
        subaccount=subaccount, user=user, calendly_user_uri=uri or f"{API}/users/{token}",
        calendly_email=user.email, status=status, webhook_token=secrets.token_urlsafe(18),
        signing_key=signing_key, connected_at=connected_at or utcnow() - timedelta(days=1), **fields,
    )


def select(connection, event_type_uri, name="Cleaning", *, shared=False, selected_from=None,
           selected_until=None, ended_with=None, includes_backfill=None):
    """One selection period; by default the first-Save period (with backfill) of the connection."""
    start = selected_from or connection.connected_at
    if includes_backfill is None:
        includes_backfill = start == connection.connected_at
    return CalendarSelection.create(
        connection=connection, event_type_uri=event_type_uri, name=name, shared=shared,
        pooling_type="round_robin" if shared else None, selected_from=start, selected_until=selected_until,
        ended_with=ended_with, includes_backfill=includes_backfill,
    )


def ada_connected(people, event_type_uri, calendar, role="user"):
    """Ada of Acme Dental with a Calendly connection importing one calendar: ``(subaccount, ada, connection)``."""
    from portal.models import Subaccount

    ada = people.user("ada@acme.test", role=role)
    sub = Subaccount.get(name="Acme Dental")
    conn = make_connection(ada, sub)
    select(conn, event_type_uri, calendar)
    return sub, ada, conn


def booking(event_type_uri, *, invitee="I1", event="E1", email="ada@example.com", name="Ada Lovelace",
            created_at=None, start=None, **fields):
    created_at = created_at or utcnow() - timedelta(minutes=5)
    start = start or created_at + timedelta(days=2)
    return Booking(
        invitee_uri=f"{API}/scheduled_events/{event}/invitees/{invitee}", event_uri=f"{API}/scheduled_events/{event}",
        event_type_uri=event_type_uri, title=fields.pop("title", "Cleaning with Dr. Who"), start=start,
        end=start + timedelta(minutes=30), name=name, email=email, created_at=created_at, **fields,
    )


def one_of_each(owner, subaccount, **connection_fields):
    """A contact, a portal appointment, a connection and a failed task: the ids every portal route takes."""
    from portal.models import (Appointment, Contact, Enrolment, FollowUpTask, Invitation, Membership, Notification,
                               OutboundEmail, Source, Task, Workflow, WorkflowStep)

    start = (utcnow() + timedelta(days=1)).replace(microsecond=0)
    contact = Contact.create(subaccount=subaccount, email="p@acme.test", email_normalized="p@acme.test", name="Pat")
    appointment = Appointment.create(subaccount=subaccount, source=Source.PORTAL, title="Visit", start=start,
                                     end=start + timedelta(minutes=30), owner=owner, contact=contact)
    connection = make_connection(owner, subaccount, **connection_fields)
    task = Task.create(subaccount=subaccount, connection=connection, kind="purge_calendar", description="Purge",
                       state="failed", requested_by=owner)
    email = OutboundEmail.create(subaccount=subaccount, kind="contact", recipient="p@acme.test", subject="Note",
                                 text_body="Hi", html_body="<p>Hi</p>", message_id="<one-of-each@calbridge.test>")
    workflow = Workflow.create(subaccount=subaccount, name="Welcome")
    step = WorkflowStep.create(workflow=workflow, position=0, kind="add_tag", config='{"tag": "lead"}')
    enrolment = Enrolment.create(workflow=workflow, subaccount=subaccount, contact=contact, state="failed")
    follow_up = FollowUpTask.create(subaccount=subaccount, contact=contact, title="Call Pat", assignee=owner)
    note = Notification.create(subaccount=subaccount, user=owner, text="Pat booked", link="/contacts/")
    return {"appointment_id": appointment.id, "contact_id": contact.id, "connection_id": connection.id,
            "task_id": task.id, "webhook_token": connection.webhook_token, "email_id": email.id,
            "workflow_id": workflow.id, "step_id": step.id, "enrolment_id": enrolment.id,
            "follow_up_id": follow_up.id, "notification_id": note.id, "token": "not-a-signed-link", "subaccount_id": subaccount.id,
            "membership_id": Membership.get(user=owner, subaccount=subaccount).id,
            "invitation_id": Invitation.create(subaccount=subaccount, email="new@acme.test", invited_by=owner).id}


def get_pages(app, ids, skipped=("static",)):
    """The path of every GET route of ``app`` but the ``skipped`` endpoints, in URL order, built with ``ids``."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" in rule.methods and rule.endpoint not in skipped:
            yield rule.build(ids, append_unknown=False)[1]


# ---------------------------------------------------------------- deliveries
def envelope(b, event="invitee.created", qa=(("Phone", "+1 404 555 1234"),)):
    """The webhook body Calendly sends for Booking ``b`` (API-FACTS §7), with data we must not keep."""
    status = "canceled" if event == "invitee.canceled" else "active"
    return {
        "event": event,
        "created_at": to_iso(utcnow()),
        "created_by": f"{API}/users/HOST",
        "payload": {
            "uri": b.invitee_uri, "event": b.event_uri, "email": b.email, "name": b.name,
            "first_name": None, "last_name": None, "status": status, "timezone": "UTC",
            "text_reminder_number": "+1 404-555-1234",
            "questions_and_answers": [{"question": q, "answer": a, "position": i} for i, (q, a) in enumerate(qa)],
            "tracking": {}, "rescheduled": b.rescheduled, "old_invitee": b.old_invitee_uri,
            "new_invitee": b.new_invitee_uri,
            "cancellation": {"created_at": to_iso(utcnow())} if status == "canceled" else None,
            "created_at": to_iso(b.created_at), "updated_at": to_iso(b.created_at),
            "scheduled_event": {
                "uri": b.event_uri, "name": b.title, "status": "active", "start_time": to_iso(b.start),
                "end_time": to_iso(b.end), "event_type": b.event_type_uri, "created_at": to_iso(b.created_at),
                "event_memberships": [{"user": u} for u in b.host_uris],
                "event_guests": [{"email": g} for g in b.guest_emails],
                "location": {"type": "outbound_call", "location": "+1 404 555 1234"},
            },
        },
    }


def post_delivery(client, connection, body, *, key=None, t=None, header=None):
    """POST a delivery to the intake, signed like Calendly does unless ``header`` is given."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if header is None:
        header = signatures.sign(key or connection.signing_key, raw, t=t)
    if header is not False:
        headers[signatures.HEADER] = header
    return client.post(f"/webhooks/calendly/{connection.webhook_token}", data=raw, headers=headers)


# ---------------------------------------------------------------- the real OAuth path
def authorization_code(sandbox_url, client_id, redirect_uri, email, password="calendly-pass"):
    """Drive the sandbox's authorize pages like a browser: sign in, Allow; returns ``(code, verifier)``."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    state = secrets.token_urlsafe(12)
    query = urlencode({"client_id": client_id, "response_type": "code", "redirect_uri": redirect_uri,
                       "state": state, "code_challenge": challenge, "code_challenge_method": "S256"})
    authorize = f"/oauth/authorize?{query}"
    http = requests.Session()
    page = http.get(sandbox_url + authorize, timeout=10)
    page.raise_for_status()
    signin = http.post(sandbox_url + "/login", timeout=10, data={
        "csrf_token": CSRF_FIELD.search(page.text).group(1), "next": authorize, "email": email, "password": password})
    signin.raise_for_status()
    assert "Allow" in signin.text, "the sandbox did not show its consent page after signing in"
    fields = {k: html.unescape(v) for k, v in
              re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', signin.text)}
    fields["decision"] = "allow"
    allowed = http.post(sandbox_url + "/oauth/authorize", data=fields, allow_redirects=False, timeout=10)
    assert allowed.status_code in (302, 303), allowed.text[:300]
    params = parse_qs(urlsplit(allowed.headers["Location"]).query)
    assert params["state"] == [state]
    return params["code"][0], verifier


def exchange_code(stack, code, verifier, redirect_uri):
    resp = requests.post(stack["sandbox_url"] + "/oauth/token", timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier,
    }, auth=(stack["creds"]["client_id"], stack["creds"]["client_secret"]))
    assert resp.status_code == 200, resp.text
    return resp.json()


def connect_via_sandbox(stack, user, subaccount, calendly_email, calendars, password="calendly-pass"):
    """Connect ``user``'s Calendly account in ``subaccount`` the way a user does, ending with the first Save.

    ``calendars``: event type URIs or names to select. Needs an app context
    (``app_ctx``); returns the connection (status Importing, backfill enqueued).
    """
    from portal.connections import service

    redirect_uri = stack["portal_url"] + "/connections/calendly/callback"
    code, verifier = authorization_code(stack["sandbox_url"], stack["creds"]["client_id"], redirect_uri,
                                        calendly_email, password)
    token = exchange_code(stack, code, verifier, redirect_uri)
    connection, _ = service.connect_from_oauth(user, subaccount, token)
    offered = service.offered_calendars(connection)
    wanted = set(calendars)
    chosen = [o.uri for o in offered if o.uri in wanted or o.name in wanted]
    assert len(chosen) == len(wanted), f"offered {[o.name for o in offered]}, wanted {calendars}"
    service.save_selection(connection, offered, chosen, True, actor=user)
    return CalendlyConnection.get_by_id(connection.id)
