"""The workflow engine on the real database and Redis: enrol once, steps once, retries, Failed and Retry."""
import pytest

from portal.models import (
    ContactTag,
    Enrolment,
    FollowUpTask,
    StepRun,
    WebhookAttempt,
    WorkflowStep,
)
from portal.pipeline import workflows
from portal.sync.apply import BACKFILL, RECONCILE, WEBHOOK, apply_booking
from tests.automation.helpers import Receiver, drain, published
from tests.sync.helpers import ada_connected, booking

ET = "https://api.calendly.com/event_types/INTRO"


@pytest.fixture
def acme(app_ctx, people):
    return ada_connected(people, ET, "Intro Call", role="admin")


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_a_booking_delivered_three_times_and_reconciled_enrols_once_and_tags_once(acme):
    sub, _, conn = acme
    workflow = published(sub, [("add_tag", {"tag": "calendly-lead"}),
                               ("create_task", {"to": "owner", "title": "Call {{ contact.name }}"})])
    b = booking(ET, name="Grace Hopper", email="grace@example.com")
    for via in (WEBHOOK, WEBHOOK, WEBHOOK):
        apply_booking(conn, b, via)
        workflows.match_pending()
    apply_booking(conn, b, RECONCILE)
    workflows.match_pending()
    drain(until=lambda: Enrolment.get().state == "done")
    assert Enrolment.select().where(Enrolment.workflow == workflow).count() == 1
    assert [t.tag for t in ContactTag.select()] == ["calendly-lead"]
    assert [t.title for t in FollowUpTask.select()] == ["Call Grace Hopper"]


def test_a_backfill_of_50_enrols_none_by_default_and_all_50_with_the_switch(acme):
    sub, _, conn = acme
    workflow = published(sub, [("add_tag", {"tag": "old"})])
    for i in range(50):
        apply_booking(conn, booking(ET, invitee=f"A{i}", event=f"A{i}", email=f"a{i}@example.com"), BACKFILL)
    workflows.match_pending()
    assert Enrolment.select().count() == 0
    conn.backfill_starts_workflows = True
    conn.save()
    for i in range(50):
        apply_booking(conn, booking(ET, invitee=f"B{i}", event=f"B{i}", email=f"b{i}@example.com"), BACKFILL)
    workflows.match_pending()
    assert Enrolment.select().where(Enrolment.workflow == workflow).count() == 50


def test_a_workflow_never_enrols_events_from_before_it_was_published(acme):
    sub, _, conn = acme
    apply_booking(conn, booking(ET, invitee="EARLY", event="EARLY"), WEBHOOK)
    published(sub, [("add_tag", {"tag": "x"})], published_ago=-5)  # published after that booking
    workflows.match_pending()
    assert Enrolment.select().count() == 0


def test_a_contact_is_in_the_same_workflow_once_at_a_time(acme):
    sub, _, conn = acme
    published(sub, [("wait", {"mode": "duration", "minutes": 60}), ("add_tag", {"tag": "x"})])
    apply_booking(conn, booking(ET, invitee="ONE", event="ONE", email="same@example.com"), WEBHOOK)
    apply_booking(conn, booking(ET, invitee="TWO", event="TWO", email="same@example.com"), WEBHOOK)
    workflows.match_pending()
    assert Enrolment.select().count() == 1


def test_the_workflows_own_assignment_does_not_trigger_it_again(acme, people):
    sub, ada, conn = acme
    ben = people.user("ben@acme.test")
    apply_booking(conn, booking(ET, email="grace@example.com"), WEBHOOK)
    workflows.match_pending()
    workflow = published(sub, [("assign", {"to": "owner"})], trigger="contact_assigned_user_changed",
                         published_ago=0)
    WorkflowStep.update(config='{"to": "%d"}' % ben.id).where(WorkflowStep.workflow == workflow).execute()
    # A person reassigns the contact: the workflow runs and reassigns it itself, which must not loop.
    from portal.models import Contact
    from portal.sync import ownership

    contact = Contact.get()
    ownership.set_assigned_user(contact, None)
    workflows.match_pending()
    drain(until=lambda: Enrolment.select().where(Enrolment.state == "done").count() == 1)
    workflows.match_pending()
    drain()
    assert Enrolment.select().count() == 1
    assert Contact.get().assigned_user_id == ben.id


def test_a_failing_receiver_fails_the_enrolment_and_retry_finishes_it_without_repeating_steps(acme, receiver):
    sub, _, conn = acme
    published(sub, [("add_tag", {"tag": "calendly-lead"}), ("send_webhook", {"url": receiver.url}),
                    ("create_task", {"to": "owner", "title": "Follow up"})])
    receiver.secret = WorkflowStep.get(WorkflowStep.kind == "send_webhook").secret
    receiver.fail_with = 503
    apply_booking(conn, booking(ET), WEBHOOK)
    workflows.match_pending()
    drain(until=lambda: Enrolment.get().state == "failed")
    enrolment = Enrolment.get()
    assert "HTTP 503" in enrolment.error and enrolment.error.startswith("Step 2")
    attempts = list(WebhookAttempt.select())
    assert [a.status_code for a in attempts] == [503, 503, 503, 503]
    assert FollowUpTask.select().count() == 0

    receiver.fail_with = None
    assert workflows.retry(enrolment)
    drain(until=lambda: Enrolment.get().state == "done")
    assert len(receiver.received) == 1 and receiver.received[0]["verified"]["type"] == "appointment_booked"
    assert ContactTag.select().count() == 1 and FollowUpTask.select().count() == 1
    assert [r.state for r in StepRun.select().order_by(StepRun.position)] == ["done", "done", "done"]
    assert Enrolment.get().active_key is None


def test_a_wait_whose_moment_has_passed_is_skipped_with_the_reason(acme):
    sub, _, conn = acme
    published(sub, [("wait", {"mode": "before_start", "minutes": 60 * 24 * 7}), ("add_tag", {"tag": "x"})])
    apply_booking(conn, booking(ET), WEBHOOK)  # starts in two days: a week before has passed
    workflows.match_pending()
    drain(until=lambda: Enrolment.get().state == "done")
    wait = StepRun.get(StepRun.position == 0)
    assert wait.state == "skipped" and "already passed" in wait.detail
