"""Issue 13's end-to-end check in a real browser: a booking on the sandbox's booking page starts a published
workflow whose Send email step reaches the mail catcher merged; the contact unsubscribes by the link, shows
DND: email, and the next booking's enrolment skips the step with "unsubscribed"."""
import re

import pytest
from browser_steps import shot, sign_in
from playwright.sync_api import expect

from mailcatcher.mailbox import body
from portal.extensions import db
from portal.models import Appointment, CalendlyConnection, Enrolment, Status, Subaccount
from tests.automation.helpers import published
from tests.mail.mail_helpers import wait_until
from tests.sync.helpers import connect_via_sandbox

pytestmark = pytest.mark.e2e

SUBJECT = "See you soon, {{ contact.first_name }}"
BODY = "Your {{ appointment.calendar }} with {{ subaccount.name }} is on {{ appointment.start }}."


def book_on_the_booking_page(page, scheduling_url, name, email):
    """The guest books the first free time on the sandbox's (Calendly's) booking page."""
    page.goto(scheduling_url)
    expect(page.get_by_role("heading", name="Cleaning")).to_be_visible()
    page.get_by_role("radio").first.check()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Schedule Event").click()
    expect(page.get_by_role("heading", name="You are scheduled")).to_be_visible()


def finished_enrolments():
    with db.connection_context():
        return Enrolment.select().where(Enrolment.state == "done").count()


def test_a_booking_emails_the_guest_who_unsubscribes_and_the_next_booking_skips_the_email(
        page, app_ctx, live_server, people, sandbox, stack, worker, mailbox):
    ada = people.user("ada@acme.test", name="Ada Admin", role="admin")
    sub = Subaccount.get(name="Acme Dental")
    sub.email_sender_name = "Acme Dental Front Desk"
    sub.save()
    sandbox.create_user("ada@cal.test", name="Ada Calendly")
    cleaning = sandbox.create_event_type("Cleaning", hosts=["ada@cal.test"])
    connection = connect_via_sandbox(stack, ada, sub, "ada@cal.test", ["Cleaning"])
    wait_until(lambda: CalendlyConnection.get_by_id(connection.id).status == Status.CONNECTED, timeout=60,
               message="the connection to finish its first import")
    workflow = published(sub, [("send_email", {"to": "contact", "subject": SUBJECT, "body": BODY})],
                         name="Booking confirmation")
    db.close()  # the live portal and the worker use the database from here on

    book_on_the_booking_page(page, cleaning["scheduling_url"], "Grace Hopper", "grace@example.com")

    # The email as it arrived at the catcher (over SMTP), merged.
    (msg,) = mailbox.wait_for(1, address="grace@example.com", timeout=120)
    with db.connection_context():
        start = Appointment.get().start
    assert msg["Subject"] == "See you soon, Grace"
    assert msg["To"] == "Grace Hopper <grace@example.com>"
    assert msg["From"] == "Acme Dental Front Desk <noreply@calbridge.test>"
    text = body(msg, "plain")
    merged = f"Your Cleaning with Acme Dental is on {start:%a %d %b %Y, %H:%M} UTC."
    assert merged in text and merged in body(msg, "html")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # The guest opens the link in the email and confirms.
    link = next(u for u in text.split() if "/unsubscribe/" in u)
    page.goto(link)
    expect(page.get_by_role("heading", name="Unsubscribe from Acme Dental?")).to_be_visible()
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()

    sign_in(page, live_server, "ada@acme.test")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Contacts").click()
    page.get_by_role("link", name="Grace Hopper").click()
    expect(page.get_by_text("DND: email", exact=True)).to_be_visible()

    # The same guest books again: a new enrolment, whose Send email step is skipped.
    book_on_the_booking_page(page, cleaning["scheduling_url"], "Grace Hopper", "grace@example.com")
    wait_until(lambda: finished_enrolments() == 2, timeout=120, message="the second enrolment to finish")

    page.goto(live_server + "/dashboard")  # still signed in
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Automation").click()
    page.get_by_role("link", name="Booking confirmation").click()
    page.get_by_role("link", name="History").click()
    enrolments = page.get_by_role("table", name="Enrolments").get_by_role("row").filter(has_text="Grace Hopper")
    expect(enrolments).to_have_count(2)
    enrolments.first.get_by_role("link", name="Grace Hopper").click()  # newest first
    expect(page.get_by_role("heading", name="Grace Hopper in Booking confirmation")).to_be_visible()
    step = page.get_by_role("table", name="Steps run").get_by_role("row", name=re.compile("Send email"))
    expect(step).to_contain_text("Skipped")
    expect(step).to_contain_text("Unsubscribed")  # the reason in words (portal/words.py)
    shot(page, "email-workflow-step-skipped-unsubscribed")
    assert len(mailbox.to("grace@example.com")) == 1  # no second email
    with db.connection_context():
        assert Enrolment.select().where(Enrolment.workflow == workflow.id).count() == 2
