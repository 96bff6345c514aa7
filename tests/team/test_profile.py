"""My profile (issue 15, item 4): name, email confirmed by a link to the new address, password, sessions."""
import re

import pytest

from mailcatcher.mailbox import body
from portal.extensions import db
from portal.models import AuditEntry, User, UserSession

PROFILE = "/profile/"
STRONG = "violet-harbor-lantern-42"
CONFIRM = re.compile(r"https?://[^\s\"<>]+(/profile/email/confirm/[^\s\"<>]+)")


@pytest.fixture
def ada(people):
    return people.user("ada@acme.test", name="Ada Admin", role="admin")


def user(app, email):
    with app.app_context(), db.connection_context():
        return User.get_or_none(User.email == email)


def test_profile_needs_a_sign_in(client):
    resp = client.get(PROFILE)
    assert resp.status_code == 302 and "/signin" in resp.headers["Location"]


def test_a_user_changes_their_name_and_a_name_with_a_line_break_is_refused(ada, app, member_client):
    member_client.post("/signin", data={"email": "ada@acme.test", "password": "password123"})
    page = member_client.post(PROFILE + "name", data={"name": "  Ada   Lovelace "}, follow_redirects=True)
    assert "Your name was saved." in page.get_data(as_text=True)
    assert user(app, "ada@acme.test").name == "Ada Lovelace"
    resp = member_client.post(PROFILE + "name", data={"name": "Ada\r\nBcc: x@evil.test"})
    assert resp.status_code == 422 and "one line of text" in resp.get_data(as_text=True)
    assert member_client.post(PROFILE + "name", data={"name": "  "}).status_code == 422
    assert user(app, "ada@acme.test").name == "Ada Lovelace"


def test_a_password_change_needs_the_current_one_and_signs_out_the_other_sessions(ada, app, member_client):
    laptop, phone = member_client, type(member_client)(app)
    for browser in (laptop, phone):
        browser.post("/signin", data={"email": "ada@acme.test", "password": "password123"})
    assert phone.get(PROFILE).status_code == 200

    wrong = laptop.post(PROFILE + "password", data={"current_password": "nope", "new_password": STRONG,
                                                    "confirm_password": STRONG})
    assert wrong.status_code == 422 and "Your current password is not correct." in wrong.get_data(as_text=True)
    weak = laptop.post(PROFILE + "password", data={"current_password": "password123", "new_password": "adaadaada1",
                                                   "confirm_password": "adaadaada1"})
    assert weak.status_code == 422 and "too common or too easy to guess" in weak.get_data(as_text=True)
    assert user(app, "ada@acme.test").check_password("password123")

    done = laptop.post(PROFILE + "password", data={"current_password": "password123", "new_password": STRONG,
                                                   "confirm_password": STRONG}, follow_redirects=True)
    assert "Your password was changed. Your other sessions were signed out." in done.get_data(as_text=True)
    assert user(app, "ada@acme.test").check_password(STRONG)
    assert laptop.get(PROFILE).status_code == 200  # this browser stays signed in
    assert phone.get(PROFILE).status_code == 302  # the other one is signed out


def test_sessions_are_listed_and_the_others_signed_out(ada, app, member_client):
    laptop, phone = member_client, type(member_client)(app)
    laptop.post("/signin", data={"email": "ada@acme.test", "password": "password123"},
                headers={"User-Agent": "Laptop Firefox"})
    phone.post("/signin", data={"email": "ada@acme.test", "password": "password123"},
               headers={"User-Agent": "Phone Safari"})
    page = laptop.get(PROFILE).get_data(as_text=True)
    assert "Laptop Firefox" in page and "Phone Safari" in page and page.count("This browser</span>") == 1
    page = laptop.post(PROFILE + "sessions/sign-out-others", follow_redirects=True).get_data(as_text=True)
    assert "Signed out of 1 other session." in page and "Phone Safari" not in page
    assert phone.get(PROFILE).status_code == 302 and laptop.get(PROFILE).status_code == 200
    with app.app_context(), db.connection_context():
        assert UserSession.select().count() == 1
        assert AuditEntry.get(AuditEntry.action == "user.sessions_ended").count == 1


def test_an_email_change_is_confirmed_by_a_link_sent_to_the_new_address(ada, app, people, member_client, mailbox,
                                                                        worker):
    people.user("taken@acme.test")
    member_client.post("/signin", data={"email": "ada@acme.test", "password": "password123"})
    taken = member_client.post(PROFILE + "email", data={"email": "Taken@acme.test"})
    assert taken.status_code == 422 and "taken@acme.test is already used by another account." in \
        taken.get_data(as_text=True)
    page = member_client.post(PROFILE + "email", data={"email": "ada.l@acme.test"}, follow_redirects=True)
    assert "We sent a link to ada.l@acme.test. Your email changes when you open it." in page.get_data(as_text=True)
    (message,) = mailbox.wait_for(1, address="ada.l@acme.test")
    assert message["Subject"] == "Confirm your new Calbridge email"
    assert user(app, "ada@acme.test") is not None  # nothing changes before the link is opened

    path = CONFIRM.search(body(message, "plain")).group(1)
    page = member_client.get(path, follow_redirects=True).get_data(as_text=True)
    assert "Your email is now ada.l@acme.test. Use it to sign in." in page
    assert user(app, "ada@acme.test") is None and user(app, "ada.l@acme.test").name == "Ada Admin"
    reused = member_client.get(path)
    assert reused.status_code == 410 and "This link has already been used." in reused.get_data(as_text=True)
    assert member_client.get("/profile/email/confirm/forged").status_code == 404
