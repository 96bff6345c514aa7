"""Unsubscribe and DND: List-Unsubscribe (RFC 8058), the signed link, DND: email, clearing it (issue 13, item 4)."""
import pytest
import requests
from browser_steps import shot, sign_in
from playwright.sync_api import expect

from mailcatcher.mailbox import body
from portal.extensions import db
from portal.mail import contacts as contact_mail
from portal.mail import outbox
from portal.models import AuditEntry, Contact, Subaccount, normalize_email


def make_contact(email="grace@example.com", name="Grace Hopper"):
    with db.connection_context():
        sub = Subaccount.get_or_create(name="Acme Dental")[0]
        return Contact.create(subaccount=sub, email=email, email_normalized=normalize_email(email), name=name)


def email_contact(app, contact, subject="Your visit on Monday"):
    with app.app_context(), db.connection_context():
        result = contact_mail.send_to_contact(Contact.get_by_id(contact.id), subject=subject,
                                              text="See you on Monday at 10:00.")
        if isinstance(result, contact_mail.Skipped):
            return result
        outbox.send(result.id)
        return result


def test_email_to_a_contact_has_one_click_list_unsubscribe_and_the_link_in_its_body(app, people, mailbox):
    people.user("admin@acme.test", role="admin")
    email_contact(app, make_contact())
    (msg,) = mailbox.wait_for(1)
    assert msg["From"] == "Acme Dental <noreply@calbridge.test>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = msg["List-Unsubscribe"].strip("<>")
    assert "/unsubscribe/" in url
    assert url in body(msg, "plain") and f'href="{url}"' in body(msg, "html")


@pytest.mark.csrf
def test_one_click_post_from_a_mail_client_unsubscribes_without_a_session(app, people, mailbox, live_server):
    people.user("admin@acme.test", role="admin")
    contact = make_contact()
    email_contact(app, contact)
    url = mailbox.wait_for(1)[0]["List-Unsubscribe"].strip("<>")
    # RFC 8058: the mail client POSTs this body to the URL, with no cookie and no CSRF token.
    resp = requests.post(url, data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert resp.status_code == 200 and "You are unsubscribed" in resp.text
    assert requests.post(url, data={"List-Unsubscribe": "One-Click"}, timeout=10).status_code == 200  # twice: same
    with app.app_context(), db.connection_context():
        assert contact_mail.is_dnd(contact)
        assert AuditEntry.select().where(AuditEntry.action == "contact.unsubscribe").count() == 1


def test_a_tampered_unsubscribe_link_is_refused_and_changes_nothing(app, client, people):
    contact = make_contact()
    with app.app_context():
        url = contact_mail.unsubscribe_url(contact)
    path = url.split("://", 1)[1].split("/", 1)[1]
    resp = client.post("/" + path[:-3] + "xyz")
    assert resp.status_code == 404 and "This link is not valid." in resp.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        assert not contact_mail.is_dnd(contact)


@pytest.mark.e2e
def test_contact_unsubscribes_in_the_browser_is_dnd_gets_no_more_email_and_a_user_clears_it(
        page, live_server, people, app, mailbox):
    people.user("admin@acme.test", role="admin", name="Alice Admin")
    contact = make_contact()
    email_contact(app, contact)
    (msg,) = mailbox.wait_for(1)
    link = next(u for u in body(msg, "plain").split() if "/unsubscribe/" in u)

    page.goto(link)
    expect(page.get_by_role("heading", name="Unsubscribe from Acme Dental?")).to_be_visible()
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    shot(page, "email-unsubscribed")

    assert email_contact(app, contact) == contact_mail.Skipped("unsubscribed")  # no more email
    assert len(mailbox.messages()) == 1

    sign_in(page, live_server, "admin@acme.test")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Contacts").click()
    page.get_by_role("link", name="Grace Hopper").click()
    expect(page.get_by_text("DND: email", exact=True)).to_be_visible()
    shot(page, "email-contact-dnd")
    page.get_by_role("button", name="Clear DND").click()
    expect(page.get_by_text("Grace Hopper can receive email again.")).to_be_visible()
    expect(page.get_by_text("DND: email", exact=True)).to_have_count(0)
    with app.app_context(), db.connection_context():
        cleared = AuditEntry.get(AuditEntry.action == "contact.dnd_clear")
        assert cleared.actor.email == "admin@acme.test" and cleared.target == "grace@example.com"
    email_contact(app, contact, subject="Welcome back")
    assert [m["Subject"] for m in mailbox.wait_for(2)] == ["Your visit on Monday", "Welcome back"]
