"""One workflow step job runs the immediate steps queued behind it: RQ's per-job cost is paid once per batch.

Found by ``make bench`` (the automation figure): with 5 workflows at 20
bookings/s the ``default`` queue grew by the hundred while the ``sync`` queue
stayed empty, because each step job cost RQ's bookkeeping several times over
the step. Each step is still run once, whichever worker wins its job, and one
that breaks in a batch is queued again, not lost.
"""
import pytest
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from jobs.automation import run_step
from portal.models import ContactTag, Enrolment
from portal.pipeline import step_batches, workflows
from portal.queues import get_redis
from portal.sync.apply import WEBHOOK, apply_booking
from tests.automation.helpers import published
from tests.sync.helpers import ada_connected, booking

ET = "https://api.calendly.com/event_types/INTRO"


@pytest.fixture
def enrolled(app_ctx, people):
    """Three bookings matched into a one-step "add a tag" workflow; returns the enrolment ids in queue order."""
    sub, _, conn = ada_connected(people, ET, "Intro Call", role="admin")
    published(sub, [("add_tag", {"tag": "calendly-lead"})])
    for n in range(3):
        apply_booking(conn, booking(ET, invitee=f"I{n}", event=f"E{n}", email=f"guest{n}@example.com"), WEBHOOK)
    return workflows.match_pending()


def default_queue():
    return Queue("default", connection=get_redis())


def tagged():
    return sorted(t.contact.email for t in ContactTag.select())


def take(enrolment_id):
    """What a worker does when it takes the step job of ``enrolment_id``."""
    default_queue().remove(workflows.step_job_id(enrolment_id, 0))


def test_a_match_queues_every_first_step_in_order(enrolled):
    assert len(enrolled) == 3
    assert default_queue().get_job_ids() == [f"enrolment-{e}-0-0" for e in enrolled]


def test_one_step_job_runs_the_steps_queued_behind_it_once(enrolled):
    take(enrolled[0])
    run_step(enrolled[0], 0)
    assert tagged() == ["guest0@example.com", "guest1@example.com", "guest2@example.com"]
    assert {e.state for e in Enrolment.select()} == {"done"}
    # The jobs it took are gone: no worker runs those steps again, nothing lingers in Redis.
    assert default_queue().get_job_ids() == []
    assert not any(Job.exists(f"enrolment-{e}-0-0", connection=get_redis()) for e in enrolled[1:])


def test_a_step_batch_is_capped_and_the_rest_stays_queued(enrolled):
    take(enrolled[0])
    step_batches.run_step_batch(enrolled[0], 0, limit=2)
    assert [Enrolment.get_by_id(e).state for e in enrolled] == ["done", "done", "running"]
    assert default_queue().get_job_ids() == [f"enrolment-{enrolled[2]}-0-0"]


def test_a_claimed_step_that_breaks_is_queued_again_and_the_rest_run(enrolled, monkeypatch):
    take(enrolled[0])
    real = workflows.run_step

    def flaky(enrolment_id, position):
        if enrolment_id == enrolled[1]:
            raise RuntimeError("database went away")
        return real(enrolment_id, position)

    monkeypatch.setattr(workflows, "run_step", flaky)
    run_step(enrolled[0], 0)
    assert [Enrolment.get_by_id(e).state for e in enrolled] == ["done", "running", "done"]
    scheduled = ScheduledJobRegistry("default", connection=get_redis()).get_job_ids()
    assert scheduled == [f"enrolment-{enrolled[1]}-0-reclaimed"]
    monkeypatch.setattr(workflows, "run_step", real)
    run_step(enrolled[1], 0)  # the job queued again, when it is due
    assert Enrolment.get_by_id(enrolled[1]).state == "done"
