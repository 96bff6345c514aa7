"""Invitations (issue 15): emailed through the catcher, single-use, expiring, bound to the invited address."""
import re

import pytest

from mailcatcher.mailbox import body
from portal.extensions import db
from portal.mail import invitations, outbox
from portal.models import AuditEntry, Invitation, Membership, Subaccount, User

TEAM = "/settings/team/"
LINK = re.compile(r"https?://[^\s\"<>]+(/invitations/[^\s\"<>]+)")
STRONG = "violet-harbor-lantern-42"


def invitation_path(message):
    return LINK.search(body(message, "plain")).group(1)


@pytest.fixture
def acme(people):
    admin = people.user("ada@acme.test", name="Ada Admin", role="admin")
    people.user("uma@acme.test", name="Uma User")
    return admin


def test_an_admin_invites_ben_who_sets_a_password_and_joins(acme, client, auth, worker, mailbox, app):
    auth.login("ada@acme.test")
    resp = client.post(TEAM + "invitations", data={"name": "Ben Ode", "email": " Ben@Acme.test ", "role": "user"},
                       follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert "Invitation sent to ben@acme.test." in page and 'aria-label="Invitation ben@acme.test"' in page

    (message,) = mailbox.wait_for(1, address="ben@acme.test")
    assert message["Subject"] == "Ada Admin invited you to Acme Dental on Calbridge"
    assert "only for ben@acme.test" in body(message, "plain") and "7 days" in body(message, "plain")
    path = invitation_path(message)
    auth.logout()

    page = client.get(path).get_data(as_text=True)
    assert "Join Acme Dental" in page and 'value="ben@acme.test"' in page
    weak = client.post(path, data={"name": "Ben Ode", "password": "password123", "confirm": "password123"})
    assert weak.status_code == 422 and "too common or too easy to guess" in weak.get_data(as_text=True)
    differ = client.post(path, data={"name": "Ben Ode", "password": STRONG, "confirm": STRONG + "x"})
    assert differ.status_code == 422 and "The two passwords are not the same." in differ.get_data(as_text=True)

    joined = client.post(path, data={"name": "Ben Ode", "password": STRONG, "confirm": STRONG})
    assert joined.status_code == 303 and joined.headers["Location"].endswith("/dashboard")
    assert "Welcome to Acme Dental." in client.get("/dashboard").get_data(as_text=True)
    with app.app_context(), db.connection_context():
        ben = User.get(User.email == "ben@acme.test")
        assert ben.name == "Ben Ode" and ben.check_password(STRONG)
        assert Membership.get(user=ben).role == "user"
        assert [e.action for e in AuditEntry.select().order_by(AuditEntry.id)] == ["member.invite", "member.join"]

    # The link worked once.
    auth.logout()
    reused = client.get(path)
    assert reused.status_code == 410 and "This link has already been used." in reused.get_data(as_text=True)
    assert client.post(path, data={"password": STRONG, "confirm": STRONG}).status_code == 410


@pytest.mark.portal_config(INVITATION_MAX_AGE_SECONDS=1)
def test_an_expired_invitation_link_is_refused_with_a_clear_page(acme, client, app, mailbox):
    import time

    with app.app_context(), db.connection_context():
        invitations.invite(Subaccount.get(name="Acme Dental"), "ben@acme.test", "Ben", "user", acme)
        outbox.send(_last_email_id())
    path = invitation_path(mailbox.wait_for(1)[0])
    time.sleep(2.1)  # past the 1-second lifetime (signatures count whole seconds)
    resp = client.get(path)
    text = resp.get_data(as_text=True)
    assert resp.status_code == 410 and "This link has expired." in text and "Ask the person who invited you" in text
    assert client.post(path, data={"password": STRONG, "confirm": STRONG}).status_code == 410
    with app.app_context(), db.connection_context():
        assert not User.select().where(User.email == "ben@acme.test").exists()


def _last_email_id():
    from portal.models import OutboundEmail

    return OutboundEmail.select(OutboundEmail.id).order_by(OutboundEmail.id.desc()).scalar()


def test_resend_replaces_the_link_and_revoke_ends_it(acme, client, auth, app, mailbox):
    auth.login("ada@acme.test")
    client.post(TEAM + "invitations", data={"name": "Ben", "email": "ben@acme.test", "role": "admin"})
    with app.app_context(), db.connection_context():
        invitation = Invitation.get(Invitation.email == "ben@acme.test")
        outbox.send(_last_email_id())
    first = invitation_path(mailbox.wait_for(1)[0])
    page = client.post(f"{TEAM}invitations/{invitation.id}/resend", follow_redirects=True).get_data(as_text=True)
    assert "Invitation sent again to ben@acme.test; the earlier link no longer works." in page
    with app.app_context(), db.connection_context():
        outbox.send(_last_email_id())
    second = invitation_path(mailbox.wait_for(2)[1])
    assert first != second
    resp = client.get(first)
    assert resp.status_code == 410 and "replaced by a newer invitation" in resp.get_data(as_text=True)
    assert client.get(second).status_code == 200

    page = client.post(f"{TEAM}invitations/{invitation.id}/revoke", follow_redirects=True).get_data(as_text=True)
    assert "Invitation to ben@acme.test revoked: its link no longer works." in page
    assert 'aria-label="Invitation ben@acme.test"' not in page
    resp = client.get(second)
    assert resp.status_code == 410 and "This invitation was revoked." in resp.get_data(as_text=True)


def test_inviting_a_member_or_a_bad_address_is_refused_with_a_message(acme, client, auth, app):
    auth.login("ada@acme.test")
    resp = client.post(TEAM + "invitations", data={"name": "U", "email": "UMA@acme.test", "role": "user"})
    assert resp.status_code == 422 and "uma@acme.test is already a member of Acme Dental." in resp.get_data(as_text=True)
    resp = client.post(TEAM + "invitations", data={"name": "X", "email": "not an address", "role": "user"})
    assert resp.status_code == 422
    resp = client.post(TEAM + "invitations", data={"name": "Eve\r\nBcc: all@x.test", "email": "eve@x.test",
                                                   "role": "user"})
    assert resp.status_code == 422 and "one line of text" in resp.get_data(as_text=True)
    resp = client.post(TEAM + "invitations", data={"name": "R", "email": "r@x.test", "role": "owner"})
    assert resp.status_code == 422 and "Choose the role" in resp.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        assert not Invitation.select().exists()


def test_a_user_of_another_subaccount_accepts_after_signing_in_as_the_invited_address(acme, client, auth, people,
                                                                                     app, mailbox):
    people.user("olga@beacon.test", name="Olga", subaccount="Beacon Labs", password="password123")
    auth.login("ada@acme.test")
    client.post(TEAM + "invitations", data={"name": "Olga", "email": "olga@beacon.test", "role": "user"})
    with app.app_context(), db.connection_context():
        outbox.send(_last_email_id())
    path = invitation_path(mailbox.wait_for(1)[0])
    # Signed in as someone else, the link does not accept for them.
    page = client.get(path).get_data(as_text=True)
    assert "You are signed in as ada@acme.test. This invitation is for olga@beacon.test" in page
    assert client.post(path).status_code == 422
    auth.logout()
    page = client.get(path).get_data(as_text=True)
    assert "You already have a Calbridge account." in page and "Sign in to accept" in page
    resp = client.post(f"/signin?next={path}", data={"email": "olga@beacon.test", "password": "password123"})
    assert resp.headers["Location"] == path
    assert client.post(path).status_code == 303
    with app.app_context(), db.connection_context():
        olga = User.get(User.email == "olga@beacon.test")
        assert sorted(m.subaccount.name for m in olga.memberships) == ["Acme Dental", "Beacon Labs"]
        assert olga.check_password("password123")  # an existing account keeps its password
