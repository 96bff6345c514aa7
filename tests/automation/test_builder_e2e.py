"""In the browser (issue 14): an admin builds "Appointment booked on calendar Intro Call → add tag
calendly-lead → assign to the appointment owner → create task → send webhook" with the HTMX builder,
publishes it, books through the sandbox's booking page, and sees the tag on the contact, the task in
My tasks and the enrolment in the history; a local receiver gets a webhook whose signature verifies."""
import re

import pytest
from playwright.sync_api import expect
from browser_steps import shot, sign_in

from portal.models import CalendlyConnection, Status, Subaccount
from tests.automation.helpers import Receiver, wait_for
from tests.sync.helpers import connect_via_sandbox

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def add_step(page, kind, fill=None):
    """Add a step of ``kind`` through the builder's HTMX form; ``fill`` types into the step's fields."""
    page.get_by_label("Add a step").select_option(label=kind)
    page.get_by_role("button", name="Add step").click()
    expect(page.get_by_role("heading", name=f"New step: {kind}")).to_be_visible()
    for label, value in (fill or {}).items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Save step").click()
    expect(page.get_by_role("heading", name=f"New step: {kind}")).to_have_count(0)


def test_an_admin_builds_publishes_and_sees_a_booking_run_the_workflow(page, live_server, sandbox, worker, stack,
                                                                       people, app_ctx, receiver):
    ada = people.user("ada@acme.test", role="admin", name="Ada Admin")
    sandbox.create_user("ada@cal.test", name="Ada Calendly")
    intro = sandbox.create_event_type("Intro Call", hosts=["ada@cal.test"])
    sandbox.create_event_type("Cleaning", hosts=["ada@cal.test"])
    connection = connect_via_sandbox(stack, ada, Subaccount.get(name="Acme Dental"), "ada@cal.test",
                                     ["Intro Call", "Cleaning"])
    wait_for(lambda: CalendlyConnection.get_by_id(connection.id).status == Status.CONNECTED, deadline=60,
             what="the backfill to finish")

    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_server, "ada@acme.test")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Automation").click()
    expect(page.get_by_role("heading", name="Workflows")).to_be_visible()
    expect(page.get_by_text("No workflows yet.")).to_be_visible()
    page.get_by_label("New workflow name").fill("Intro Call welcome")
    page.get_by_role("button", name="Create workflow").click()
    expect(page.get_by_role("heading", name="Intro Call welcome")).to_be_visible()

    # The trigger: Appointment booked on calendar Intro Call.
    page.get_by_label("Trigger", exact=True).select_option(label="Appointment booked")
    page.get_by_label("Calendar", exact=True).select_option(label="Intro Call")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Workflow saved.")).to_be_visible()
    page.wait_for_load_state()  # the builder's forms are HTMX: wait for htmx before using them

    page.evaluate("window.__sameDocument = true")
    add_step(page, "Add tag", {"Tag": "calendly-lead"})
    add_step(page, "Assign contact")  # the appointment owner is the first choice
    expect(page.get_by_role("list", name="Steps")).to_contain_text("Assign the contact to the appointment owner")
    add_step(page, "Create task", {"Task title": "Call {{ contact.name }} about {{ appointment.calendar }}"})
    add_step(page, "Send webhook", {"Webhook URL": receiver.url})
    secret_shown = page.get_by_role("status").filter(has_text="shown once")
    expect(secret_shown).to_be_visible()
    receiver.secret = secret_shown.get_by_text(re.compile("^whsec_")).inner_text().strip()
    assert receiver.secret.startswith("whsec_")
    steps = page.get_by_role("list", name="Steps").get_by_role("listitem")
    expect(steps).to_have_count(4)
    expect(steps.nth(0)).to_contain_text("1. Add tag")
    expect(steps.nth(3)).to_contain_text("4. Send webhook")
    assert page.evaluate("window.__sameDocument === true")  # built without a page reload
    shot(page, "workflow-builder")

    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Published: new events from now on start it.")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Status: Published"))).to_be_visible()

    # An invitee books Intro Call on the sandbox's booking page.
    page.goto(intro["scheduling_url"])
    expect(page.get_by_role("heading", name="Intro Call")).to_be_visible()
    page.get_by_role("radio").first.check()
    page.get_by_label("Name", exact=True).fill("Grace Hopper")
    page.get_by_label("Email", exact=True).fill("grace@example.com")
    page.get_by_role("button", name="Schedule Event").click()
    expect(page.get_by_role("heading", name="You are scheduled")).to_be_visible()

    wait_for(lambda: receiver.received, deadline=90, what="the workflow's webhook to arrive")
    (hook,) = receiver.received
    assert hook["verified"]["type"] == "appointment_booked"  # standardwebhooks verified the signature
    assert hook["body"]["data"]["contact"]["email"] == "grace@example.com"
    assert hook["body"]["data"]["contact"]["tags"] == ["calendly-lead"]  # step 1 ran before it

    # The tag on the contact, and the workflow it went through.
    page.goto(live_server + "/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Contacts").click()
    page.get_by_role("link", name="Grace Hopper").first.click()
    expect(page.get_by_role("heading", name="Grace Hopper")).to_be_visible()
    expect(page.get_by_role("link", name="calendly-lead")).to_be_visible()
    workflows_card = page.get_by_role("region", name="Workflows")
    expect(workflows_card.get_by_role("link", name="Intro Call welcome")).to_be_visible()
    expect(workflows_card).to_contain_text("Done")
    shot(page, "workflow-contact")

    # The task, for the appointment owner (Ada).
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My tasks").click()
    tasks = page.get_by_role("table", name="My tasks")
    expect(tasks.get_by_role("row", name=re.compile("Call Grace Hopper about Intro Call"))).to_be_visible()
    expect(tasks.get_by_role("link", name="Grace Hopper")).to_be_visible()
    shot(page, "workflow-my-tasks")

    # The enrolment in the workflow's history, every step done.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Automation").click()
    row = page.get_by_role("row", name=re.compile("Intro Call welcome"))
    expect(row).to_contain_text("Published")
    expect(row.get_by_role("cell", name="1", exact=True)).to_be_visible()
    row.get_by_role("link", name="Intro Call welcome").click()
    page.get_by_role("link", name="History").click()
    enrolments = page.get_by_role("table", name="Enrolments")
    expect(enrolments.get_by_role("row", name=re.compile("Grace Hopper"))).to_contain_text("Done")
    enrolments.get_by_role("link", name="Grace Hopper").click()
    runs = page.get_by_role("table", name="Steps run")
    expect(runs.get_by_role("row")).to_have_count(5)
    expect(runs).not_to_contain_text("Failed")
    expect(runs).to_contain_text("HTTP 204")
    shot(page, "workflow-enrolment")
