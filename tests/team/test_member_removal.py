"""Removing a member and the Calendly hand-over (issue 15; SPEC D3, D4, O2, O3, T2)."""
import pytest

from sync.helpers import wait_for

from portal.models import Appointment, AuditEntry, CalendlyConnection, Contact, Membership, Status
from portal.sync import ownership
from portal.sync.ownership import refresh_assigned_user

from deletion_helpers import appointment, count, disconnect_url, flashes, wait_for_appointment

pytestmark = pytest.mark.slow

TEAM = "/settings/team/"


def remove_url(team, user):
    return f"{TEAM}members/{Membership.get(user=user, subaccount=team.sub).id}/remove"


@pytest.fixture
def handover(team, auth, worker):
    """Bob owns a Consult booking (personal, O1) and a Team intake booking (shared: O2's draw, fixed here to
    Bob); Ann and Bob both have Team intake selected. Ada, the admin, is signed in."""
    team.consult_booking = team.book(team.consult, email="carl@example.com")
    team.intake_booking = team.book(team.intake, email="dora@example.com")
    team.bob_conn = team.connect(team.bob, "bob@cal.test", ["Consult", "Team intake"])
    team.ann_conn = team.connect(team.ann, "ann@cal.test", ["Cleaning", "Team intake"])
    intake = wait_for_appointment(team.intake_booking)
    Appointment.update(owner=team.bob).where(Appointment.id == intake.id).execute()
    refresh_assigned_user(intake.contact)
    assert appointment(team.consult_booking).owner_id == team.bob.id
    auth.login("ada@acme.test")
    return team


def test_removing_a_member_with_keep_hands_their_connection_and_appointments_over(
        handover, client, member_client, sandbox):
    team = handover
    member_client.post("/signin", data={"email": "bob@acme.test", "password": "password123"})
    assert member_client.get("/calendars/settings/connections").status_code == 200

    confirm = client.get(remove_url(team, team.bob)).get_data(as_text=True)
    assert "Remove Bob Baker" in confirm
    assert "Their Calendly connection (bob@cal.test) is disconnected" in confirm
    assert "The 2 appointments they own that stay (1 from shared calendars) get a new owner" in confirm

    # Without an answer or a successor nothing happens.
    resp = client.post(remove_url(team, team.bob), data={"successor": team.ada.id})
    assert resp.status_code == 422 and "Choose Keep or Delete permanently" in resp.get_data(as_text=True)
    resp = client.post(remove_url(team, team.bob), data={"answer": "keep"})
    assert resp.status_code == 422 and "Choose the member who takes over" in resp.get_data(as_text=True)
    assert Membership.get_or_none(user=team.bob, subaccount=team.sub) is not None

    resp = client.post(remove_url(team, team.bob), data={"answer": "keep", "successor": team.ada.id})
    assert resp.status_code == 303
    page = client.get(TEAM).get_data(as_text=True)
    assert ("success", "Bob Baker was removed from Acme Dental.") in flashes(page)
    assert "bob@acme.test" not in page

    # D3: disconnected, subscription deleted and tokens revoked at Calendly.
    conn = CalendlyConnection.get_by_id(team.bob_conn.id)
    assert conn.status == Status.DISCONNECTED and conn.access_token is None
    (subscription,) = [s for s in sandbox.subscriptions() if s["uri"] == conn.webhook_subscription_uri]
    assert subscription["deleted"] is True
    bob_tokens = [t for t in sandbox.tokens() if t["user"].endswith(conn.calendly_user_uri.rsplit("/", 1)[1])]
    assert bob_tokens and all(t["revoked"] or t.get("rotated") for t in bob_tokens)
    connections_page = client.get("/calendars/settings/connections").get_data(as_text=True)
    assert "Former members' connections" in connections_page and "bob@cal.test" in connections_page

    # Keep: both stay; the personal one goes to the picked member, the shared one is drawn among Ann (O2).
    consult, intake = appointment(team.consult_booking), appointment(team.intake_booking)
    assert consult.owner_id == team.ada.id
    assert consult.owner_reason.startswith("reassigned: owner removed by Ada Admin")
    assert intake.owner_id == team.ann.id
    assert intake.owner_reason.startswith("reassigned: owner removed by Ada Admin (round robin")
    shown = client.get(f"/calendars/appointments/{intake.id}").get_data(as_text=True)
    assert "reassigned: owner removed by Ada Admin" in shown
    # O3: the contacts follow their appointment's new owner.
    assert Contact.get(Contact.email_normalized == "carl@example.com").assigned_user_id == team.ada.id
    assert Contact.get(Contact.email_normalized == "dora@example.com").assigned_user_id == team.ann.id

    # Bob lost the subaccount at once: his only one, so his session ended too.
    resp = member_client.get("/calendars/settings/connections")
    assert resp.status_code == 302 and "/signin" in resp.headers["Location"]
    member_client.post("/signin", data={"email": "bob@acme.test", "password": "password123"})
    assert member_client.get("/calendars/settings/connections").status_code == 404

    entry = AuditEntry.get(AuditEntry.action == "member.remove")
    assert (entry.actor_id, entry.target, entry.count) == (team.ada.id, "bob@acme.test", 2)
    assert AuditEntry.get(AuditEntry.action == "connection.disconnect").actor_id == team.ada.id


def test_removing_with_delete_deletes_personal_events_and_shared_ones_wait_for_the_others(handover, client,
                                                                                          monkeypatch):
    """D4: Bob's Delete is his vote; Ann still has Team intake selected, so it stays, drawn to her."""
    team = handover
    monkeypatch.setattr(ownership, "choose", lambda members: members[0])
    client.post(remove_url(team, team.bob), data={"answer": "delete", "successor": team.ada.id})
    wait_for(lambda: count(team.consult) == 0, timeout=20, message="the purge of Consult")
    intake = appointment(team.intake_booking)
    assert intake is not None and intake.owner_id == team.ann.id
    assert Contact.get(Contact.email_normalized == "carl@example.com").assigned_user_id is None


def test_a_member_who_also_belongs_elsewhere_keeps_the_other_subaccount(handover, client, member_client, people):
    team = handover
    people.user("bob@acme.test", subaccount="Beacon Labs")
    member_client.post("/signin", data={"email": "bob@acme.test", "password": "password123"})
    client.post(remove_url(team, team.bob), data={"answer": "keep", "successor": team.ada.id})
    page = member_client.get("/dashboard").get_data(as_text=True)
    assert "Beacon Labs" in page and "Acme Dental" not in page


def test_an_admin_disconnects_another_members_connection_answering_for_them(handover, client):
    team = handover
    page = client.get("/calendars/settings/connections").get_data(as_text=True)
    assert "Disconnect Bob Baker's Calendly" in page
    question = client.get(disconnect_url(team.bob_conn), headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Bob Baker</strong>'s Calendly and answer for them" in question
    client.post(disconnect_url(team.bob_conn), data={"answer": "keep"}, headers={"HX-Request": "true"})
    conn = CalendlyConnection.get_by_id(team.bob_conn.id)
    assert conn.status == Status.DISCONNECTED and conn.access_token is None
    entry = AuditEntry.get(AuditEntry.action == "connection.disconnect")
    assert (entry.actor_id, entry.target) == (team.ada.id, "bob@cal.test")
    assert Membership.get_or_none(user=team.bob, subaccount=team.sub) is not None  # still a member
    wait_for_appointment(team.consult_booking)
