"""``make run``'s demo: the seeded "New booking follow-up" emails the guest of a first booking, and the admin
reads that email, rendered, under Sent emails (issue 13, "Done when")."""
import json

import pytest
from browser_steps import shot, sign_in
from playwright.sync_api import expect

from mailcatcher.mailbox import body
from portal import demo
from portal.extensions import db
from portal.models import OutboundEmail, Subaccount, User, Workflow
from portal.pipeline import workflows
from portal.sync.apply import WEBHOOK, apply_booking
from tests.mail.mail_helpers import wait_until
from tests.sync.helpers import booking, make_connection, select

ET = "https://api.calendly.com/event_types/DEMO-CLEANING"


def test_the_demo_workflow_is_published_and_has_a_send_email_step_to_the_guest(app_ctx):
    demo.seed()
    workflow = Workflow.get(Workflow.name == "New booking follow-up")
    assert workflow.status == "published"
    (step,) = [s for s in workflow.steps if s.kind == "send_email"]
    assert json.loads(step.config)["to"] == "contact"


@pytest.mark.e2e
def test_a_newcomer_books_once_and_reads_the_demo_email_under_sent_emails(
        page, app_ctx, live_server, worker, mailbox):
    demo.seed()
    acme = Subaccount.get(Subaccount.name == "Acme Dental")
    alice = User.get(User.email == "alice@calbridge.test")
    connection = make_connection(alice, acme)
    select(connection, ET, "Cleaning")
    apply_booking(connection, booking(
        ET, invitee="NEW", event="NEW", name="Jordan Rivera", email="jordan@example.com",
        title="Cleaning with Alice"), WEBHOOK)
    workflows.kick()
    db.close()  # the worker and the live portal take it from here

    (msg,) = mailbox.wait_for(1, address="jordan@example.com", timeout=120)
    assert msg["Subject"] == "Your Cleaning with Alice with Acme Dental"
    assert msg["From"] == "Acme Dental <noreply@calbridge.test>"
    assert body(msg, "plain").startswith("Hello Jordan,\n\nThank you for booking Cleaning with Alice with Acme Dental on ")
    with db.connection_context():
        wait_until(lambda: OutboundEmail.get(OutboundEmail.recipient == "jordan@example.com").state == "sent",
                   message="the email marked sent")

    sign_in(page, live_server, "alice@calbridge.test", password=demo.DEMO_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sent emails").click()
    row = page.get_by_role("row").filter(has_text="Your Cleaning with Alice with Acme Dental")
    expect(row.get_by_text("Sent", exact=True)).to_be_visible()
    row.get_by_role("link", name="Your Cleaning with Alice with Acme Dental").click()
    frame = page.frame_locator("iframe[title='Email: Your Cleaning with Alice with Acme Dental']")
    expect(frame.get_by_text("Hello Jordan,")).to_be_visible()
    expect(frame.get_by_role("link", name="Unsubscribe")).to_be_visible()
    shot(page, "email-demo-sent-message")
