"""Connecting Calendly end to end over HTTP: the portal, the sandbox's OAuth pages, the first Save.

SPEC C1 (path, PKCE + state, consent and Save rules), C2 (calendars offered),
C3/C4 (who may connect what), C5 (plans), C7 (webhook on Save), W2 (backfill).
"""
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from rq import Queue

from portal.extensions import db
from portal.models import CalendarSelection, CalendlyConnection, Status
from portal.queues import get_redis

from calendly_oauth_flow import authorize
from connections_helpers import INDEX, flashes, offered

CALENDLY = "ann@calendly.test"


def connections():
    with db.connection_context():
        return list(CalendlyConnection.select().order_by(CalendlyConnection.id))


def select_url(conn):
    return f"{INDEX}/{conn.id}/calendars"


@pytest.fixture
def calendars(sandbox):
    """Ann's Calendly: a personal calendar, two shared ones, one switched off, one she does not host."""
    sandbox.create_user(CALENDLY)
    sandbox.create_user("bob@calendly.test")  # a solo account elsewhere
    return {
        "intro": sandbox.create_event_type("Intro call", hosts=[CALENDLY]),
        "bob_only": sandbox.create_event_type("Bob's consult", hosts=["bob@calendly.test"]),
    }


def test_connect_sends_the_browser_to_calendly_with_pkce_and_state(flow, ann, stack):
    location = flow.start()
    url = urlsplit(location)
    assert location.startswith(stack["sandbox_url"] + "/oauth/authorize?")
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["response_type"] == "code" and query["client_id"] == stack["creds"]["client_id"]
    assert query["redirect_uri"] == stack["portal_url"] + "/connections/calendly/callback"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) >= 43
    assert len(query["state"]) >= 20


def test_first_save_connects_and_starts_the_import(flow, ann, calendars, sandbox, client, stack, app):
    resp = flow.connect(CALENDLY)
    (conn,) = connections()
    assert resp.headers["Location"].endswith(f"{INDEX}?select={conn.id}")
    assert conn.status == Status.PENDING and conn.calendly_email == CALENDLY and conn.plan == "professional"

    page = flow.page(resp)
    assert "Choose calendars to import" in page and "consent" in page
    options = offered(page)
    assert options == {"Intro call": (calendars["intro"]["uri"], None)}  # not Bob's calendar (C2)

    resp = client.post(select_url(conn), data={"event_type": calendars["intro"]["uri"], "consent": "yes"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(INDEX)
    page = client.get(INDEX).get_data(as_text=True)
    assert "Calendly connected. Importing your events…" in " ".join(flashes(page))
    assert CALENDLY in page and "Intro call" in page and "Importing" in page

    (conn,) = connections()
    assert conn.status == Status.IMPORTING and conn.connected_at is not None
    with db.connection_context():
        (sel,) = CalendarSelection.select().where(CalendarSelection.connection == conn.id)
    assert (sel.event_type_uri, sel.name, sel.shared) == (calendars["intro"]["uri"], "Intro call", False)
    assert sel.includes_backfill and sel.selected_from == conn.connected_at and sel.selected_until is None

    # C7: a user-scoped subscription to this connection's own URL (naming its event list), signed with its
    # own key, for bookings, no-shows and event type changes (issue 17).
    (sub,) = [s for s in sandbox.subscriptions() if s["state"] == "active"]
    assert sub["callback_url"].startswith(f"{stack['portal_url']}/webhooks/calendly/{conn.webhook_token}?events=")
    assert set(sub["events"]) == {"invitee.created", "invitee.canceled", "invitee_no_show.created",
                                  "invitee_no_show.deleted", "event_type.created", "event_type.updated",
                                  "event_type.deleted"}
    assert sub["uri"] == conn.webhook_subscription_uri and conn.webhook_state == "active"
    assert conn.signing_key and len(conn.signing_key) >= 32

    # W2: the backfill job is queued on "bulk" under its agreed id.
    with app.app_context():
        job = Queue("bulk", connection=get_redis()).fetch_job(f"backfill-{conn.id}")
    assert job is not None and job.func_name == "jobs.sync.backfill_connection" and job.args == (conn.id,)


def test_tokens_are_stored_encrypted_and_never_shown(flow, ann, calendars, client, app):
    resp = flow.connect(CALENDLY)
    page = flow.page(resp) + client.get(INDEX).get_data(as_text=True)
    (conn,) = connections()
    with app.app_context(), db.connection_context():
        raw = db.execute_sql("SELECT access_token, refresh_token FROM calendly_connection").fetchone()
    assert conn.access_token and conn.access_token not in raw[0] and conn.refresh_token not in raw[1]
    assert conn.access_token not in page and conn.refresh_token not in page


def test_shared_calendars_are_offered_and_labelled(flow, ann, sandbox, client):
    created = sandbox.create_user(CALENDLY)
    org = created["organization"]["uri"]
    sandbox.create_user("cat@calendly.test", organization=org)
    sandbox.create_event_type("Intro call", hosts=[CALENDLY])
    rr = sandbox.create_event_type("Team intake", hosts=[CALENDLY, "cat@calendly.test"], pooling_type="round_robin")
    co = sandbox.create_event_type("Panel review", hosts=[CALENDLY, "cat@calendly.test"], pooling_type="collective")
    sandbox.create_event_type("Cat's own", hosts=["cat@calendly.test"])
    sandbox.create_event_type("Cat's team", hosts=["cat@calendly.test"], pooling_type="round_robin")

    page = flow.page(flow.connect(CALENDLY))
    options = offered(page)
    assert set(options) == {"Intro call", "Team intake", "Panel review"}
    assert options["Team intake"] == (rr["uri"], "Shared · Round robin")
    assert options["Panel review"] == (co["uri"], "Shared · Collective")
    assert options["Intro call"][1] is None

    (conn,) = connections()
    client.post(select_url(conn), data={"event_type": [rr["uri"], options["Intro call"][0]], "consent": "yes"})
    with db.connection_context():
        rows = {s.name: s.shared for s in CalendarSelection.select()}
    assert rows == {"Team intake": True, "Intro call": False}
    page = client.get(INDEX).get_data(as_text=True)
    assert "Team intake" in page and '<span class="badge badge-shared">Shared</span>' in page


@pytest.mark.parametrize("data,message", [
    ({"event_type": "CHOSEN"}, "Tick the consent box"),
    ({"consent": "yes"}, "Choose at least one calendar"),
    ({}, "Choose at least one calendar to import. Tick the consent box"),
    ({"event_type": "https://elsewhere.example/event_types/x", "consent": "yes"}, "Choose at least one calendar"),
], ids=["no consent", "no calendar", "nothing", "a calendar not offered"])
def test_save_is_refused_without_consent_or_calendar(flow, ann, calendars, sandbox, client, data, message):
    flow.connect(CALENDLY)
    (conn,) = connections()
    if data.get("event_type") == "CHOSEN":
        data = {**data, "event_type": calendars["intro"]["uri"]}
    resp = client.post(select_url(conn), data=data, headers={"HX-Request": "true"})
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert message in body and "<html" not in body  # the modal alone, re-rendered with the message
    if data.get("event_type") == calendars["intro"]["uri"]:  # the "no consent" case
        assert 'value="%s" checked' % data["event_type"] in body  # the choice is not lost
    (conn,) = connections()
    assert conn.status == Status.PENDING and conn.connected_at is None
    assert sandbox.subscriptions() == []


def test_save_refusal_on_a_full_page_post_keeps_the_page(flow, ann, calendars, client):
    flow.connect(CALENDLY)
    (conn,) = connections()
    resp = client.post(select_url(conn), data={"event_type": calendars["intro"]["uri"]})
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "<html" in page and "Connections" in page and "Tick the consent box" in page


def test_deny_at_calendly_creates_nothing(flow, ann, calendars, client):
    resp = flow.connect(CALENDLY, decision="deny")
    assert resp.headers["Location"].endswith(INDEX)
    assert "Calendly access was not granted." in flashes(flow.page(resp))
    assert connections() == []


def test_forged_state_is_refused(flow, ann, calendars, stack):
    flow.start()
    answer = authorize(stack, CALENDLY, url=None)  # a code for a request the portal never made
    resp = flow.callback({"code": answer["code"], "state": "made-up-state"})
    messages = flashes(flow.page(resp))
    assert any("could not verify this Calendly sign-in" in m for m in messages)
    assert connections() == []


def test_callback_without_a_started_flow_is_refused(flow, ann, calendars):
    resp = flow.callback({"code": "whatever", "state": "whatever"})
    assert any("could not verify" in m for m in flashes(flow.page(resp)))
    assert connections() == []


def test_spent_authorization_code_is_refused(flow, ann, calendars, client, stack):
    answer = authorize(stack, CALENDLY, url=flow.start())
    # Someone else spends the code first (a replay): the portal's own exchange then gets invalid_grant.
    with client.session_transaction() as session:
        verifier = session[f"_state_calendly_{answer['state']}"]["data"]["code_verifier"]
    creds = stack["creds"]
    spent = requests.post(stack["sandbox_url"] + "/oauth/token", timeout=10, auth=(creds["client_id"], creds["client_secret"]),
                          data={"grant_type": "authorization_code", "code": answer["code"], "code_verifier": verifier,
                                "redirect_uri": stack["portal_url"] + "/connections/calendly/callback"})
    assert spent.status_code == 200
    resp = flow.callback({"code": answer["code"], "state": answer["state"]})
    assert any("authorization code has expired or was already used" in m for m in flashes(flow.page(resp)))
    assert connections() == []


@pytest.mark.parametrize("plan,stage,named", [
    ("basic", "free", "Your Calendly account is on the Free plan (basic)."),
    ("essentials", "paid", "Your Calendly account is on the Essentials plan (essentials)."),
])
def test_plans_without_api_access_are_refused(flow, ann, sandbox, plan, stage, named):
    sandbox.create_user(CALENDLY, plan=plan, stage=stage)
    messages = flashes(flow.page(flow.connect(CALENDLY)))
    assert any(m.startswith(named) and "upgrade in Calendly, then connect again" in m for m in messages)
    assert connections() == []
    assert sandbox.tokens() and all(t["revoked"] for t in sandbox.tokens())  # the fresh token is revoked


def test_a_trial_may_connect(flow, ann, sandbox):
    sandbox.create_user(CALENDLY, plan="essentials", stage="trial")
    flow.connect(CALENDLY)
    (conn,) = connections()
    assert conn.status == Status.PENDING and conn.stage == "trial"


def test_second_calendly_account_in_the_same_subaccount_is_refused(flow, ann, calendars, sandbox):
    sandbox.create_user("ann.other@calendly.test")
    flow.connect(CALENDLY)
    messages = flashes(flow.page(flow.connect("ann.other@calendly.test")))
    assert ("You already have a Calendly account connected in this subaccount (ann@calendly.test). "
            "Disconnect it first.") in messages
    assert [c.calendly_email for c in connections()] == [CALENDLY]
    newest = max(t["token_id"] for t in sandbox.tokens())
    assert all(t["revoked"] for t in sandbox.tokens() if t["token_id"] == newest)  # the refused one


def test_same_account_again_returns_to_its_selection(flow, ann, calendars):
    first = flow.connect(CALENDLY)
    (conn,) = connections()
    again = flow.connect(CALENDLY)
    assert again.headers["Location"] == first.headers["Location"]
    (same,) = connections()
    assert same.id == conn.id and same.refresh_token != conn.refresh_token  # fresh tokens kept


def test_account_of_another_portal_user_is_refused_everywhere(flow, ann, calendars, people, auth, client):
    flow.connect(CALENDLY)
    auth.logout()
    people.user("zed@other.test", subaccount="Other Clinic")
    auth.login("zed@other.test")
    messages = flashes(flow.page(flow.connect(CALENDLY)))
    assert "This Calendly account is already connected by another Calbridge user." in messages
    assert len(connections()) == 1


def test_same_user_may_connect_the_same_account_in_another_subaccount(flow, ann, calendars, people, client):
    flow.connect(CALENDLY)
    people.user("ann@acme.test", subaccount="Beta Clinic")
    beta = people.subaccount("Beta Clinic")
    client.post("/switch", data={"subaccount_id": beta.id})
    resp = flow.connect(CALENDLY)
    conns = connections()
    assert len(conns) == 2 and conns[0].subaccount_id != beta.id and conns[1].subaccount_id == beta.id
    assert conns[0].calendly_user_uri == conns[1].calendly_user_uri
    assert resp.headers["Location"].endswith(f"?select={conns[1].id}")


def test_plan_gate_at_save_keeps_nothing(flow, ann, calendars, sandbox, client):
    flow.connect(CALENDLY)
    (conn,) = connections()
    sandbox.update_user(conn.calendly_user_uri, plan="basic", stage="free")  # the trial lapsed meanwhile
    resp = client.post(select_url(conn), data={"event_type": calendars["intro"]["uri"], "consent": "yes"})
    assert resp.status_code == 303
    messages = flashes(client.get(INDEX).get_data(as_text=True))
    assert any("Calendly refused to send this account's bookings to Calbridge" in m for m in messages)
    assert connections() == [] and sandbox.subscriptions() == []


def test_reconnecting_the_same_account_clears_reconnect_needed(flow, ann, calendars, sandbox, client, app):
    from portal.calendly import CalendlyClient, ReconnectNeeded

    flow.connect(CALENDLY)
    (conn,) = connections()
    client.post(select_url(conn), data={"event_type": calendars["intro"]["uri"], "consent": "yes"})
    (conn,) = connections()
    sandbox.revoke_all_tokens(conn.calendly_user_uri)  # access removed in Calendly
    with app.app_context(), db.connection_context():
        with pytest.raises(ReconnectNeeded):
            CalendlyClient(CalendlyConnection.get_by_id(conn.id)).me()
    page = client.get(INDEX).get_data(as_text=True)
    assert "Reconnect needed" in page and ">Reconnect</button>" in page
    with app.app_context():
        Queue("bulk", connection=get_redis()).empty()  # the first backfill ran (and stopped) meanwhile

    resp = flow.connect(CALENDLY)
    assert resp.headers["Location"].endswith(INDEX)
    assert f"Calendly reconnected ({CALENDLY})." in flashes(flow.page(resp))
    (again,) = connections()
    # The backfill never finished, so the import starts again (W2, same window).
    assert again.id == conn.id and again.status == Status.IMPORTING and again.last_error is None
    with app.app_context():
        assert Queue("bulk", connection=get_redis()).fetch_job(f"backfill-{conn.id}") is not None
    assert again.refresh_token != conn.refresh_token and again.connected_at == conn.connected_at
    with app.app_context(), db.connection_context():
        assert CalendlyClient(again).me()["email"] == CALENDLY  # the new tokens work
    active = [s for s in sandbox.subscriptions() if s["state"] == "active"]
    assert [s["uri"] for s in active] == [again.webhook_subscription_uri]


def test_calendly_outage_during_selection_is_explained_and_loses_nothing(flow, ann, calendars, sandbox, client):
    flow.connect(CALENDLY)
    (conn,) = connections()
    sandbox.faults(api_error_rate=1.0)
    modal = client.get(select_url(conn), headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Calendly could not be reached just now" in modal
    resp = client.post(select_url(conn), data={"event_type": calendars["intro"]["uri"], "consent": "yes"},
                       headers={"HX-Request": "true"})
    assert resp.status_code == 502 and "Calendly could not be reached just now" in resp.get_data(as_text=True)
    (conn,) = connections()
    assert conn.status == Status.PENDING and sandbox.subscriptions() == []
    sandbox.clear_faults()
    resp = client.post(select_url(conn), data={"event_type": calendars["intro"]["uri"], "consent": "yes"})
    assert resp.status_code == 303 and connections()[0].status == Status.IMPORTING


def test_the_selection_modal_offers_the_backfill_workflow_switch_off_by_default_and_saves_it(
        flow, ann, calendars, sandbox, client):
    resp = flow.connect(CALENDLY)
    (conn,) = connections()
    page = flow.page(resp)
    assert "Historical appointments from the backfill start workflows" in page
    assert 'name="backfill_starts_workflows" value="on" aria-describedby="backfill-starts-workflows-hint" >' in page

    resp = client.post(select_url(conn), data={"event_type": calendars["intro"]["uri"], "consent": "yes",
                                               "backfill_switch_shown": "1", "backfill_starts_workflows": "on"})
    assert resp.status_code == 303
    (conn,) = connections()
    assert conn.backfill_starts_workflows is True  # stored before the backfill it governs ran

    edit = client.get(f"{INDEX}/{conn.id}/edit", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Edit imported calendars" in edit and "checked>" in edit.split("backfill-starts-workflows-hint")[1][:20]
    # The same calendars, the switch turned off: that alone is a change worth saving.
    resp = client.post(f"{INDEX}/{conn.id}/edit", data={"event_type": calendars["intro"]["uri"],
                                                        "backfill_switch_shown": "1"})
    assert resp.status_code == 303
    assert "no longer start workflows" in " ".join(flashes(client.get(INDEX).get_data(as_text=True)))
    (conn,) = connections()
    assert conn.backfill_starts_workflows is False
