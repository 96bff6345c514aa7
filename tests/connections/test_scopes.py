"""Calendly's authorization scopes (issue 17, API-FACTS §3): what the portal asks for and what a
token without a needed scope does to the connection."""
import pytest

from portal.config import DEFAULTS
from portal.extensions import db
from portal.models import CalendlyConnection, Status

from connections_helpers import INDEX, flashes

CALENDLY = "scoped@calendly.test"
SCOPED = {"client_id": "calbridge-scoped", "client_secret": "scoped-client-secret"}
DEFAULT_SCOPES = "users:read organizations:read event_types:read scheduled_events:read webhooks:read webhooks:write"
ALL_EVENTS = {"invitee.created", "invitee.canceled", "invitee_no_show.created", "invitee_no_show.deleted",
              "event_type.created", "event_type.updated", "event_type.deleted"}


@pytest.fixture
def intro(sandbox):
    sandbox.create_user(CALENDLY)
    return sandbox.create_event_type("Intro call", hosts=[CALENDLY])


@pytest.fixture
def scoped_client(sandbox, stack):
    """A Calendly app registered since March 2026: it has exactly the scopes the portal needs."""
    sandbox._call("POST", "/oauth_clients", json={
        "name": "Calbridge (scoped)", **SCOPED, "webhook_signing_key": stack["creds"]["webhook_signing_key"],
        "redirect_uris": [stack["portal_url"] + "/connections/calendly/callback"],
        "scopes": DEFAULT_SCOPES.split()})
    return SCOPED


def the_connection():
    with db.connection_context():
        (conn,) = CalendlyConnection.select()
        return conn


def connect_and_save(flow, client, intro):
    flow.connect(CALENDLY)
    conn = the_connection()
    return client.post(f"{INDEX}/{conn.id}/calendars", data={"event_type": intro["uri"], "consent": "yes"})


def access_scopes(sandbox):
    return {t["scope"] for t in sandbox.tokens() if t["kind"] == "access" and not t["revoked"]}


def test_the_portal_asks_for_the_minimal_scopes_by_default():
    assert DEFAULTS["CALENDLY_SCOPES"].split() == DEFAULT_SCOPES.split()


@pytest.mark.portal_config(CALENDLY_CLIENT_ID=SCOPED["client_id"], CALENDLY_CLIENT_SECRET=SCOPED["client_secret"])
def test_a_scoped_calendly_app_connects_with_the_default_scopes(scoped_client, ann, intro, flow, client, sandbox):
    resp = connect_and_save(flow, client, intro)
    assert resp.status_code == 303
    page = client.get(INDEX).get_data(as_text=True)
    assert "Calendly connected. Importing your events…" in " ".join(flashes(page))
    conn = the_connection()
    assert conn.status == Status.IMPORTING and conn.last_error is None
    assert access_scopes(sandbox) == {DEFAULT_SCOPES}
    (sub,) = [s for s in sandbox.subscriptions() if s["state"] == "active" and not s["deleted"]]
    assert set(sub["events"]) == ALL_EVENTS


@pytest.mark.portal_config(CALENDLY_SCOPES=DEFAULT_SCOPES.replace(" scheduled_events:read", ""))
def test_a_token_without_a_needed_scope_ends_in_reconnect_needed_naming_it(ann, intro, flow, client, sandbox):
    resp = connect_and_save(flow, client, intro)
    assert resp.status_code == 303 and resp.headers["Location"].endswith(INDEX)
    page = client.get(INDEX).get_data(as_text=True)
    said = " ".join(flashes(page))
    assert "permission to read your scheduled events and their invitees" in said
    assert "scheduled_events:read" in said
    conn = the_connection()
    assert conn.status == Status.RECONNECT_NEEDED and "scheduled_events:read" in conn.last_error
    assert "Reconnect needed" in page and "Reconnect" in page
    assert [s for s in sandbox.subscriptions() if not s["deleted"]] == []


@pytest.mark.portal_config(CALENDLY_SCOPES="")
def test_a_legacy_calendly_app_still_works(ann, intro, flow, client, sandbox):
    """An app registered before scopes existed, asking for none: its tokens carry ``default`` (full access)."""
    resp = connect_and_save(flow, client, intro)
    assert resp.status_code == 303
    conn = the_connection()
    assert conn.status == Status.IMPORTING and conn.last_error is None
    assert access_scopes(sandbox) == {"default"}
    (sub,) = [s for s in sandbox.subscriptions() if s["state"] == "active" and not s["deleted"]]
    assert set(sub["events"]) == ALL_EVENTS
