"""The Send email step: merged subject and body reach the mail catcher; a DND contact is skipped."""
from mailcatcher.mailbox import body

from portal.mail import contacts as contact_mail
from portal.models import Contact, Enrolment, StepRun, Subaccount
from portal.pipeline import workflows
from portal.sync.apply import WEBHOOK, apply_booking
from tests.automation.helpers import published, wait_for
from tests.sync.helpers import booking, make_connection, select

ET = "https://api.calendly.com/event_types/INTRO"


def test_send_email_reaches_the_catcher_merged_and_an_unsubscribed_contact_is_skipped(app_ctx, people, worker,
                                                                                      mailbox):
    ada = people.user("ada@acme.test", role="admin")
    sub = Subaccount.get(name="Acme Dental")
    conn = make_connection(ada, sub)
    select(conn, ET, "Intro Call")
    published(sub, [("send_email", {"to": "contact", "subject": "Welcome {{ contact.first_name }}",
                                    "body": "See you on {{ appointment.start }} for {{ appointment.calendar }}."})])
    apply_booking(conn, booking(ET, invitee="ONE", event="ONE", name="Grace Hopper", email="grace@example.com"),
                  WEBHOOK)
    workflows.kick()
    (msg,) = mailbox.wait_for(1)
    assert msg["Subject"] == "Welcome Grace" and msg["To"].endswith("<grace@example.com>")
    assert "for Intro Call." in body(msg, "plain")
    wait_for(lambda: Enrolment.get().state == "done", what="the first enrolment to finish")

    contact_mail.unsubscribe(Contact.get(Contact.email_normalized == "grace@example.com"))
    apply_booking(conn, booking(ET, invitee="TWO", event="TWO", name="Grace Hopper", email="grace@example.com"),
                  WEBHOOK)
    workflows.kick()
    wait_for(lambda: Enrolment.select().where(Enrolment.state == "done").count() == 2, what="the second enrolment")
    last = StepRun.select().order_by(StepRun.id.desc()).get()
    assert (last.state, last.detail) == ("skipped", "unsubscribed")
    assert len(mailbox.messages()) == 1
