"""The support console's booking trace links a booking to the workflow enrolments it caused (issue 14)."""
from portal.models import Enrolment, Subaccount
from portal.pipeline import workflows
from portal.sync.apply import WEBHOOK, apply_booking
from tests.automation.helpers import published
from tests.sync.helpers import booking, make_connection, select

ET = "https://api.calendly.com/event_types/INTRO"


def test_the_booking_trace_links_to_the_enrolments_the_booking_caused(client, people, auth, app_ctx):
    ada = people.user("ada@acme.test", role="admin")
    sub = Subaccount.get(name="Acme Dental")
    conn = make_connection(ada, sub)
    select(conn, ET, "Intro Call")
    published(sub, [("add_tag", {"tag": "calendly-lead"})], name="Welcome")
    published(sub, [("add_tag", {"tag": "new"})], name="New contact", trigger="contact_created")
    traced = booking(ET, invitee="TRACED", event="TRACED", email="grace@example.com")
    apply_booking(conn, traced, WEBHOOK)
    apply_booking(conn, booking(ET, invitee="OTHER", event="OTHER", email="bob@example.com"), WEBHOOK)
    workflows.match_pending()
    assert Enrolment.select().count() == 4

    people.user("support@calbridge.test", subaccount=None, support=True)
    auth.login("support@calbridge.test")
    page = client.get(f"/support/trace?q={traced.invitee_uri}").get_data(as_text=True)
    assert "Workflows started" in page
    mine = sorted((e for e in Enrolment.select() if e.contact.email == "grace@example.com"),
                  key=lambda e: e.workflow.name != "Welcome")
    assert {e.workflow.name for e in mine} == {"Welcome", "New contact"}
    for e in mine:
        assert f'href="/support/enrolments/{e.id}"' in page
    others = [e for e in Enrolment.select() if e.contact.email == "bob@example.com"]
    assert all(f"/support/enrolments/{e.id}\"" not in page for e in others)
    assert "Appointment booked (webhook)" in page and "Contact created (webhook)" in page

    detail = client.get(f"/support/enrolments/{mine[0].id}")
    assert detail.status_code == 200
    assert "in “Welcome”" in detail.get_data(as_text=True) and "Acme Dental" in detail.get_data(as_text=True)
    assert client.get("/support/enrolments/999999").status_code == 404

    auth.logout()
    auth.login("ada@acme.test")
    assert client.get(f"/support/enrolments/{mine[0].id}").status_code == 404  # support staff only (T1)
