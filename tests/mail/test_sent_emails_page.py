"""The Sent emails page: a subaccount admin reads its outbox with states and opens a message as sent."""
import html

import pytest
from browser_steps import shot, sign_in
from playwright.sync_api import expect

from portal.extensions import db
from portal.mail import accounts, outbox
from portal.models import MailState, OutboundEmail, Subaccount
from page_text import without_tokens


def queue(app, subaccount_name, **fields):
    values = {"to": "grace@example.com", "to_name": "Grace Hopper", "subject": "Your visit",
              "text": "See you soon.", "kind": "contact"}
    values.update(fields)
    with app.app_context(), db.connection_context():
        sub = Subaccount.get_or_create(name=subaccount_name)[0]
        return outbox.queue_email(subaccount=sub, **values)


def test_admin_sees_the_subaccounts_emails_with_their_state_and_others_see_nothing(app, client, auth, people,
                                                                                 mailbox):
    people.user("admin@acme.test", role="admin")
    people.user("user@acme.test", role="user")
    people.user("other@bright.test", subaccount="Brightside Realty", role="admin")
    sent = queue(app, "Acme Dental", subject="Sent one")
    refused = queue(app, "Acme Dental", subject="Refused one", to="nobody@refused.test")
    waiting = queue(app, "Acme Dental", subject="Waiting one")
    theirs = queue(app, "Brightside Realty", subject="Brightside news")
    with app.app_context(), db.connection_context():
        outbox.send(sent.id)
        outbox.send(refused.id)

    auth.login("admin@acme.test")
    page = client.get("/emails/").get_data(as_text=True)
    assert ">Sent emails</span>" in page  # in the navigation
    for subject, state in (("Sent one", "Sent"), ("Refused one", "Failed"), ("Waiting one", "Queued")):
        assert subject in page
        assert f'class="badge badge-mail-{state.lower()}">{state}</span>' in page
    # Why it failed, in words; the server's answer (its 550) stays recorded for support, not shown.
    assert "The recipient&#39;s mail server refused this message." in page and "550" not in without_tokens(page)
    assert "Brightside news" not in page
    assert client.get(f"/emails/{theirs.id}").status_code == 404  # another subaccount's message (T2)
    assert client.get(f"/emails/{theirs.id}/message").status_code == 404
    detail = client.get(f"/emails/{waiting.id}").get_data(as_text=True)
    assert "Waiting one" in detail
    auth.logout()

    auth.login("user@acme.test")  # not an admin: the page does not exist for them
    assert client.get("/emails/").status_code == 404
    assert client.get(f"/emails/{sent.id}").status_code == 404
    assert client.get(f"/emails/{sent.id}/message").status_code == 404
    assert ">Sent emails</span>" not in client.get("/dashboard").get_data(as_text=True)


def test_a_message_is_shown_in_a_sandboxed_frame_and_a_reset_link_is_never_shown(app, client, auth, people,
                                                                                  mailbox):
    admin = people.user("admin@acme.test", role="admin")
    email = queue(app, "Acme Dental", html='<p>Hello <script>steal()</script><b>Grace</b></p>')
    auth.login("admin@acme.test")
    page = client.get(f"/emails/{email.id}").get_data(as_text=True)
    frame = page.split("<iframe", 1)[1].split(">", 1)[0]
    assert " sandbox " in frame and "allow-scripts" not in frame
    assert "<script>steal()" not in page and "steal()" not in page  # the message is only inside the frame
    src = html.unescape(frame.split('src="', 1)[1].split('"', 1)[0])
    framed = client.get(src)
    assert framed.get_data(as_text=True) == email.html_body
    # The frame's own policy: inline styles (as email is written) but no script, no remote image, its own sandbox.
    policy = framed.headers["Content-Security-Policy"]
    assert "script-src" not in policy and "default-src 'none'" in policy and policy.endswith("sandbox")
    assert "style-src 'unsafe-inline'" in policy and "img-src data:" in policy
    assert framed.headers["X-Frame-Options"] == "SAMEORIGIN"

    with app.app_context(), db.connection_context():
        reset_id = accounts.send_password_reset(admin.email)
        OutboundEmail.update(subaccount=Subaccount.get(name="Acme Dental")).where(
            OutboundEmail.id == reset_id).execute()  # as if it were listed here
        body = OutboundEmail.get_by_id(reset_id).text_body
    token_path = body.split("/reset-password/", 1)[1].split()[0]
    page = client.get(f"/emails/{reset_id}").get_data(as_text=True)
    assert token_path not in page and "its text is not kept or shown" in page
    assert client.get(f"/emails/{reset_id}/message").status_code == 404


@pytest.mark.e2e
def test_admin_opens_sent_emails_from_the_navigation_and_reads_a_message(page, live_server, people, app, mailbox):
    people.user("admin@acme.test", role="admin")
    email = queue(app, "Acme Dental", subject="Your visit on Monday",
                  html='<!doctype html><html><body><h1>See you Monday</h1></body></html>')
    with app.app_context(), db.connection_context():
        outbox.send(email.id)
        assert OutboundEmail.get_by_id(email.id).state == MailState.SENT
    sign_in(page, live_server, "admin@acme.test")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sent emails").click()
    expect(page.get_by_role("heading", name="Sent emails")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Your visit on Monday")
    expect(row.get_by_text("Sent", exact=True)).to_be_visible()
    row.get_by_role("link", name="Your visit on Monday").click()
    frame = page.frame_locator("iframe[title='Email: Your visit on Monday']")
    expect(frame.get_by_role("heading", name="See you Monday")).to_be_visible()
    shot(page, "email-sent-message")


def test_the_list_shows_when_each_email_was_queued_and_sent_as_a_time_of_day_in_the_readers_zone(app, client, auth,
                                                                                                people, mailbox):
    from datetime import datetime

    from portal.models import User

    people.user("admin@acme.test", role="admin")
    winter = queue(app, "Acme Dental", subject="January reminder")
    summer = queue(app, "Acme Dental", subject="July reminder")
    waiting = queue(app, "Acme Dental", subject="Still queued")
    with app.app_context(), db.connection_context():
        User.update(time_zone="America/Chicago").where(User.email == "admin@acme.test").execute()
        for email, queued, sent in ((winter, datetime(2026, 1, 5, 15, 0), datetime(2026, 1, 5, 15, 2)),
                                    (summer, datetime(2026, 7, 6, 15, 0), datetime(2026, 7, 6, 15, 2))):
            OutboundEmail.update(created_at=queued, sent_at=sent, state=MailState.SENT).where(
                OutboundEmail.id == email.id).execute()
        OutboundEmail.update(created_at=datetime(2026, 7, 6, 16, 30)).where(OutboundEmail.id == waiting.id).execute()

    auth.login("admin@acme.test")
    page = client.get("/emails/").get_data(as_text=True)
    rows = {subject: page.split(subject, 1)[0].rsplit("<tr>", 1)[1] for subject in
            ("January reminder", "July reminder", "Still queued")}
    assert "Mon 5 Jan 2026, 9:00 AM CST" in rows["January reminder"]
    assert "Mon 5 Jan 2026, 9:02 AM CST" in rows["January reminder"]
    assert "Mon 6 Jul 2026, 10:00 AM CDT" in rows["July reminder"]
    assert "Mon 6 Jul 2026, 10:02 AM CDT" in rows["July reminder"]
    assert "Mon 6 Jul 2026, 11:30 AM CDT" in rows["Still queued"] and "—" in rows["Still queued"]
    assert "America/Chicago" in page
