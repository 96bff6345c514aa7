"""RQ entry points of the workflow engine (ids only): ``portal/pipeline/workflows``.

- ``match_events()``: enrol new domain events (queue ``default``, job id ``workflows-match``);
- ``run_step(enrolment_id, position)``: one step of one enrolment (``enrolment-<id>-<position>-<attempt>``),
  and the immediate step jobs queued behind it (``portal/pipeline/step_batches``);
- ``resume_workflows()``: waits and steps Redis lost, and events nobody matched (scheduled).
"""
from jobs.context import job
from portal.pipeline import step_batches, workflows


@job
def match_events():
    return len(workflows.match_all())


@job
def run_step(enrolment_id, position):
    return step_batches.run_step_batch(enrolment_id, position)


@job
def resume_workflows():
    return workflows.resume_due()
