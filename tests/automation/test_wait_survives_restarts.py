"""A Wait is RQ-scheduled with its moment in the database: killing every worker (and the RQ scheduler
inside them) and starting them again after the moment runs the next step once."""
import signal

from portal.models import ContactTag, Enrolment, StepRun, Subaccount
from portal.pipeline import workflows
from portal.sync.apply import WEBHOOK, apply_booking
from portal.timeutil import utcnow
from tests.automation.helpers import published, wait_for
from tests.sync.helpers import booking, make_connection, select

ET = "https://api.calendly.com/event_types/INTRO"


def test_a_two_minute_wait_survives_killing_every_worker_and_the_step_after_it_runs_once(app_ctx, people, worker):
    ada = people.user("ada@acme.test", role="admin")
    sub = Subaccount.get(name="Acme Dental")
    conn = make_connection(ada, sub)
    select(conn, ET, "Intro Call")
    published(sub, [("wait", {"mode": "duration", "minutes": 2}), ("add_tag", {"tag": "waited"})])
    apply_booking(conn, booking(ET), WEBHOOK)
    workflows.kick()

    wait = wait_for(lambda: StepRun.get_or_none((StepRun.position == 0) & (StepRun.state == "waiting")),
                    what="the wait to start")
    worker.stop(sig=signal.SIGKILL)
    try:
        wait_for(lambda: utcnow() > wait.run_at, what="the wait's moment to pass with no worker alive")
        assert StepRun.select().where(StepRun.position == 1).count() == 0  # nobody was there to run it
    finally:
        worker.start(wait=False)

    wait_for(lambda: Enrolment.get().state == "done", deadline=120, what="the enrolment to finish after restart")
    assert [(r.position, r.state, r.attempts) for r in StepRun.select().order_by(StepRun.position)] == [
        (0, "done", 0), (1, "done", 0)]
    assert [t.tag for t in ContactTag.select()] == ["waited"]
