"""A workflow step job runs the immediate step jobs queued behind it too (``jobs.automation.run_step``).

Found by ``make bench`` (the automation figure): at 20 bookings/s with 5
workflows, the ``default`` queue grew by the hundred and the first tag came
tens of seconds after its booking, with the ``sync`` queue empty the whole
time. The workers were not starved by the sync jobs; each step job cost RQ's
own bookkeeping (a dozen Redis round trips) several times over the step's
work. So, as an apply job does with deliveries, a step job claims up to
``STEP_BATCH - 1`` step jobs queued behind it (``queues.claim_jobs``, each
won by one worker only) and runs each as ``workflows.run_step`` would: its
own transactions, its outcome stored with its effect. A claimed step that
raises is queued again after a short pause rather than lost with the job.
"""
import logging
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError

from portal.pipeline import workflows
from portal.queues import claim_jobs
from portal.timeutil import utcnow

log = logging.getLogger(__name__)
STEP_BATCH = 20
RECLAIM_DELAY = timedelta(seconds=2)


def claim_steps(limit):
    """Up to ``limit`` (enrolment id, position) of step jobs taken off the head of the ``default`` queue."""
    return [workflows.parse_step_job_id(j)
            for j in claim_jobs(workflows.QUEUE, workflows.STEP_JOB_PREFIX, limit)]


def run_step_batch(enrolment_id, position, limit=STEP_BATCH):
    """This job's step, then the step jobs it claimed; returns this step's outcome."""
    claimed = []
    if limit > 1 and current_app.config.get("RQ_ASYNC", True):
        try:
            claimed = [c for c in claim_steps(limit - 1) if c != (enrolment_id, position)]
        except RedisError as exc:
            log.warning("no step batch after enrolment %s: Redis unavailable (%s)", enrolment_id, exc)
    try:
        outcome = workflows.run_step(enrolment_id, position)
    finally:
        # Even when this job's own step raises (RQ records that failure), the claimed ones still run.
        for other, other_position in claimed:
            try:
                workflows.run_step(other, other_position)
            except Exception:
                log.exception("step %s of enrolment %s failed in a batch; queued again", other_position, other)
                workflows.enqueue_step(other, other_position, at=utcnow() + RECLAIM_DELAY, attempt="reclaimed")
    return outcome
