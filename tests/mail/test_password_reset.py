"""Forgot password: the same page for every address; the emailed link works once and expires (issue 13, item 6)."""
import re
import time

import pytest

from mailcatcher.mailbox import body
from portal.extensions import db
from portal.mail import accounts, outbox
from portal.models import AuditEntry, OutboundEmail, User
from tests.mail.mail_helpers import links, wait_until

CSRF = re.compile(r'(?<=csrf-token" content=")[^"]+|(?<="X-CSRFToken": ")[^"]+|(?<=name="csrf_token" value=")[^"]+')
RESET_PATH = re.compile(r"(/reset-password/[^\s\"<>]+)")


def reset_path(message):
    return RESET_PATH.search(body(message, "plain")).group(1)


def page_text(resp, email):
    """The page with the address typed and the (timestamped) CSRF tokens taken out, to compare two answers."""
    return CSRF.sub("CSRF", resp.get_data(as_text=True).replace(email, "ADDRESS"))


def test_sign_in_page_offers_forgot_password(client):
    page = client.get("/signin").get_data(as_text=True)
    assert '<a href="/forgot-password">Forgot password?</a>' in page


def test_known_and_unknown_addresses_get_the_same_page_and_only_the_known_one_gets_a_link(
        app, client, people, worker, mailbox):
    people.user("ada@acme.test", name="Ada")
    known = client.post("/forgot-password", data={"email": "Ada@Acme.test"})
    unknown = client.post("/forgot-password", data={"email": "nobody@acme.test"})
    assert known.status_code == unknown.status_code == 200
    assert page_text(known, "Ada@Acme.test") == page_text(unknown, "nobody@acme.test")
    assert "If an account uses" in known.get_data(as_text=True)

    (msg,) = mailbox.wait_for(1, address="ada@acme.test")
    assert msg["Subject"] == "Reset your Calbridge password"
    assert links(body(msg, "html"), "/reset-password/") == links(body(msg, "plain"), "/reset-password/")
    with app.app_context():
        wait_until(lambda: OutboundEmail.select().where(OutboundEmail.kind == "password_reset").count() == 1)
        # Both requests were handled by the job: the unknown address sent nothing.
        sent = OutboundEmail.get(OutboundEmail.kind == "password_reset")
        wait_until(lambda: OutboundEmail.get_by_id(sent.id).state == "sent", message="sent")
        # The link was the recipient's alone: once sent, the outbox keeps no copy of it.
        assert OutboundEmail.get_by_id(sent.id).text_body == ""
    assert mailbox.to("nobody@acme.test") == []


def test_the_reset_link_sets_a_new_password_once(app, client, people, mailbox):
    people.user("ada@acme.test", password="old-password-1")
    with app.app_context(), db.connection_context():
        email_id = accounts.send_password_reset("ada@acme.test")
        outbox.send(email_id)
    path = reset_path(mailbox.wait_for(1)[0])

    form = client.get(path)
    assert form.status_code == 200 and "Choose a new password" in form.get_data(as_text=True)
    short = client.post(path, data={"password": "short", "confirm": "short"})
    assert short.status_code == 422 and "at least 10 characters long" in short.get_data(as_text=True)
    done = client.post(path, data={"password": "new-password-2", "confirm": "new-password-2"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/signin")

    assert client.post("/signin", data={"email": "ada@acme.test", "password": "old-password-1"}).status_code == 401
    assert client.post("/signin", data={"email": "ada@acme.test", "password": "new-password-2"}).status_code == 302
    client.post("/signout")
    again = client.get(path)
    assert again.status_code == 410 and "This link has already been used." in again.get_data(as_text=True)
    reuse = client.post(path, data={"password": "third-password", "confirm": "third-password"})
    assert reuse.status_code == 410
    with app.app_context(), db.connection_context():
        assert User.get(User.email == "ada@acme.test").check_password("new-password-2")
        assert AuditEntry.select().where(AuditEntry.action == "user.password_reset").count() == 1


@pytest.mark.portal_config(PASSWORD_RESET_MAX_AGE_SECONDS=1)
def test_the_reset_link_expires(app, client, people, mailbox):
    people.user("ada@acme.test", password="old-password-1")
    with app.app_context(), db.connection_context():
        outbox.send(accounts.send_password_reset("ada@acme.test"))
    path = reset_path(mailbox.wait_for(1)[0])
    time.sleep(2.1)  # past the 1-second lifetime (signatures count whole seconds)
    resp = client.get(path)
    assert resp.status_code == 410 and "This link has expired." in resp.get_data(as_text=True)
    resp = client.post(path, data={"password": "new-password-2", "confirm": "new-password-2"})
    assert resp.status_code == 410
    with app.app_context(), db.connection_context():
        assert User.get(User.email == "ada@acme.test").check_password("old-password-1")


def test_the_reset_form_refuses_a_guessable_password_like_every_password_form(app, client, people, mailbox):
    people.user("ada@acme.test", password="old-password-1")
    with app.app_context(), db.connection_context():
        outbox.send(accounts.send_password_reset("ada@acme.test"))
    path = reset_path(mailbox.wait_for(1)[0])
    for guessable in ("password1234", "ada@acme.test1", "qwertyuiop12"):
        resp = client.post(path, data={"password": guessable, "confirm": guessable})
        assert resp.status_code == 422 and "too easy to guess" in resp.get_data(as_text=True)
    # Refused tries do not use the link up: a good password still works with it.
    done = client.post(path, data={"password": "tidal-quartz-meadow-7", "confirm": "tidal-quartz-meadow-7"})
    assert done.status_code == 303
    with app.app_context(), db.connection_context():
        assert User.get(User.email == "ada@acme.test").check_password("tidal-quartz-meadow-7")


def test_a_tampered_link_is_refused_with_a_clear_page(client):
    resp = client.get("/reset-password/not-a-real-token")
    assert resp.status_code == 404 and "This link is not valid." in resp.get_data(as_text=True)


def test_a_malformed_address_is_asked_again_without_a_500(client):
    resp = client.post("/forgot-password", data={"email": "ada\r\nBcc: x@example.com"})
    assert resp.status_code == 422 and "Enter an email address" in resp.get_data(as_text=True)
