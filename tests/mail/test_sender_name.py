"""The subaccount's sender name (Settings > Email): the From name of its email, and no header injection (issue 13)."""
import pytest
from browser_steps import shot, sign_in
from playwright.sync_api import expect

from portal.extensions import db
from portal.models import AuditEntry, Subaccount
from tests.mail.test_unsubscribe import email_contact, make_contact


def sub_sender_name():
    with db.connection_context():
        return Subaccount.get(Subaccount.name == "Acme Dental").email_sender_name


def test_an_admin_sets_the_sender_name_and_email_to_contacts_comes_from_it(app, client, auth, people, mailbox):
    people.user("admin@acme.test", role="admin")
    auth.login()
    page = client.get("/settings/email").get_data(as_text=True)
    assert "Acme Dental &lt;noreply@calbridge.test&gt;" in page  # empty: the subaccount's name

    resp = client.post("/settings/email", data={"sender_name": "  Dr. Smith's Team  "})
    assert resp.status_code == 303
    assert 'Email is sent as: <strong>"Dr. Smith\'s Team" &lt;noreply@calbridge.test&gt;' in \
        client.get("/settings/email").get_data(as_text=True).replace("&#39;", "'").replace("&#34;", '"')
    email_contact(app, make_contact())
    (msg,) = mailbox.wait_for(1)
    assert msg["From"].addresses[0].display_name == "Dr. Smith's Team"
    assert msg["From"].addresses[0].addr_spec == "noreply@calbridge.test"
    with app.app_context(), db.connection_context():
        entry = AuditEntry.get(AuditEntry.action == "subaccount.sender_name")
        assert entry.actor.email == "admin@acme.test" and "Dr. Smith's Team" in entry.detail

    client.post("/settings/email", data={"sender_name": ""})  # cleared: back to the subaccount's name
    mailbox.clear()
    email_contact(app, make_contact("linus@example.com", "Linus"))
    assert mailbox.wait_for(1)[0]["From"] == "Acme Dental <noreply@calbridge.test>"


@pytest.mark.parametrize("typed", ["Acme\r\nBcc: victim@example.com", "Acme\nBcc: victim@example.com",
                                   "Acme\rX-Evil: 1", "Acme\x00Team", "Acme\u2028Team"])
def test_a_sender_name_with_a_line_break_or_control_character_is_refused_and_not_stored(
        client, auth, people, typed):
    people.user("admin@acme.test", role="admin")
    auth.login()
    resp = client.post("/settings/email", data={"sender_name": typed})
    assert resp.status_code == 422
    assert "must be one line of text" in resp.get_data(as_text=True)
    assert sub_sender_name() == ""


@pytest.mark.parametrize("typed, reason", [
    ("Support <help@bank.example>", "cannot contain &lt; or &gt;"),
    ("x" * 81, "at most 80 characters"),
])
def test_a_sender_name_that_looks_like_an_address_or_is_too_long_is_refused(client, auth, people, typed, reason):
    people.user("admin@acme.test", role="admin")
    auth.login()
    resp = client.post("/settings/email", data={"sender_name": typed})
    assert resp.status_code == 422 and reason in resp.get_data(as_text=True)
    assert sub_sender_name() == ""


def test_members_who_are_not_admins_cannot_see_or_change_the_sender_name(client, auth, people):
    people.user("user@acme.test", role="user")
    auth.login("user@acme.test")
    assert client.get("/settings/email").status_code == 404
    assert client.post("/settings/email", data={"sender_name": "Mine"}).status_code == 404
    assert sub_sender_name() == ""


@pytest.mark.e2e
def test_an_admin_reaches_settings_email_from_the_menu_and_saves_a_sender_name(page, live_server, people):
    people.user("admin@acme.test", role="admin")
    sign_in(page, live_server, "admin@acme.test")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Email").click()
    expect(page.get_by_role("heading", name="Email", exact=True)).to_be_visible()
    page.get_by_label("Sender name").fill("Acme Dental Front Desk")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Email settings saved.")).to_be_visible()
    expect(page.get_by_text("Acme Dental Front Desk <noreply@calbridge.test>")).to_be_visible()
    page.get_by_label("Sender name").fill("Acme\nBcc")  # an input drops a typed line break: nothing to refuse
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "email-settings-sender-name")
    assert sub_sender_name() == "Acme Dental Front Desk"


def test_a_workflow_email_to_the_appointment_owner_comes_from_the_sender_name_too(app_ctx, people, worker, mailbox):
    from portal.pipeline import workflows
    from portal.sync.apply import WEBHOOK, apply_booking
    from tests.automation.helpers import published
    from tests.sync.helpers import booking, make_connection, select

    et = "https://api.calendly.com/event_types/SENDER"
    ada = people.user("ada@acme.test", role="admin", name="Ada Admin")
    sub = Subaccount.get(name="Acme Dental")
    sub.email_sender_name = "Acme Dental Front Desk"
    sub.save()
    connection = make_connection(ada, sub)
    select(connection, et, "Cleaning")
    published(sub, [("send_email", {"to": "owner", "subject": "New booking: {{ contact.name }}",
                                    "body": "{{ contact.name }} booked {{ appointment.calendar }}."})])
    apply_booking(connection, booking(et, invitee="S1", event="S1", name="Grace Hopper", email="grace@example.com"),
                  WEBHOOK)
    workflows.kick()
    (msg,) = mailbox.wait_for(1, address="ada@acme.test", timeout=60)
    assert msg["Subject"] == "New booking: Grace Hopper"
    assert msg["From"] == "Acme Dental Front Desk <noreply@calbridge.test>"
    assert msg["List-Unsubscribe"] is None  # a colleague, not a contact: no unsubscribe
