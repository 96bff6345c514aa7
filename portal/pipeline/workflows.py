"""The workflow engine: events to enrolments, and each step as its own RQ job with its state in the database.

- ``match_pending`` reads events no matcher has taken yet and enrols them into
  the subaccount's published workflows. The (workflow, event) unique key makes
  an enrolment exist at most once whoever races; ``active_key`` keeps a contact
  in a workflow once at a time.
- ``run_step`` runs the enrolment's next step. A step's outcome and the
  enrolment's next position are stored in one transaction, so a worker killed
  mid-step runs that step again (its effect is keyed on the step run) and never
  one that finished. A Wait is an RQ scheduled job (``enqueue_at``) and its
  moment is stored too: ``resume_due`` re-enqueues any whose job Redis lost.
- A step that keeps failing marks the enrolment Failed; ``retry`` resumes it.
"""
import json
import logging
from datetime import timedelta

from flask import current_app
from peewee import IntegrityError, fn
from redis.exceptions import RedisError
from rq import Queue

from portal import localtime
from portal.automation import matching, waits
from portal.extensions import db
from portal.models import (
    ContactTag,
    DomainEvent,
    Enrolment,
    EnrolmentState,
    Origin,
    StepKind,
    StepRun,
    Workflow,
    WorkflowStatus,
    WorkflowStep,
)
from portal.pipeline import workflow_actions
from portal.queues import get_queue
from portal.statement_cache import CachedStatement
from portal.sync import events
from portal.sync.apply import write_transaction
from portal.timeutil import utcnow

log = logging.getLogger(__name__)
QUEUE = "default"
MATCH_JOB = "workflows-match"
MATCH_BATCH = 500
ACTIVE = (EnrolmentState.RUNNING, EnrolmentState.WAITING)


class StepFailed(Exception):
    """A step that did not do its work (the message is shown on the enrolment)."""


# ------------------------------------------------------------------ events -> enrolments
def kick():
    """Ask a worker to match new events (after a change was committed); harmless when Redis is down."""
    try:
        get_queue(QUEUE).enqueue("jobs.automation.match_events", job_id=MATCH_JOB, result_ttl=0,
                                 failure_ttl=3600)
    except RedisError as exc:
        log.warning("workflow matching not enqueued (%s); the scheduler's sweep matches the events", exc)


# Asked after every apply: compiled once (``portal.statement_cache``).
_UNMATCHED = CachedStatement(lambda: (
    DomainEvent.select(DomainEvent.id).where(DomainEvent.matched_at.is_null()).limit(1)))


def kick_if_pending():
    """``kick`` when some event waits to be matched (after an apply that wrote events)."""
    if _UNMATCHED.first() is not None:
        kick()


def _facts(event, tags_by_contact):
    appointment = event.appointment
    return matching.EventFacts(
        kind=event.kind, created_at=event.created_at, to_value=event.to_value, calendar=event.calendar,
        source=appointment.source if appointment is not None else "",
        tags=tags_by_contact.get(event.contact_id, frozenset()), by_workflow=event.by_workflow,
        starts_workflows=event.starts_workflows, has_contact=event.contact_id is not None)


def match_pending(limit=MATCH_BATCH):
    """Enrol unmatched events into the workflows they match; returns the new enrolments' ids."""
    new = []
    with write_transaction():
        batch = list(DomainEvent.select().where(DomainEvent.matched_at.is_null())
                     .order_by(DomainEvent.id).limit(limit))
        if not batch:
            return new
        DomainEvent.update(matched_at=utcnow()).where(DomainEvent.id.in_([e.id for e in batch])).execute()
        subaccounts = {e.subaccount_id for e in batch}
        published = {}
        for w in Workflow.select().where(Workflow.subaccount.in_(subaccounts)
                                         & (Workflow.status == WorkflowStatus.PUBLISHED)):
            published.setdefault(w.subaccount_id, []).append(w)
        contacts = {e.contact_id for e in batch if e.contact_id}
        tags = {}
        if any(w.filter_has_tag or w.filter_not_tag for ws in published.values() for w in ws):
            for row in ContactTag.select().where(ContactTag.contact.in_(list(contacts))):
                tags.setdefault(row.contact_id, set()).add(row.tag)
        tags = {k: frozenset(v) for k, v in tags.items()}
        for event in batch:
            candidates = published.get(event.subaccount_id, [])
            if not candidates:
                continue
            facts = _facts(event, tags)
            for workflow in candidates:
                if matching.refusal(workflow, facts) is None:
                    enrolment_id = _enrol(workflow, event)
                    if enrolment_id is not None:
                        new.append(enrolment_id)
    enqueue_first_steps(new)
    return new


def match_all(max_batches=200):
    """``match_pending`` batch after batch until no event waits (a burst larger than one batch); the new ids.

    Each batch's first steps are enqueued as it commits, so other workers run them meanwhile.
    """
    new = []
    for _ in range(max_batches):
        batch = match_pending()
        new.extend(batch)
        if _UNMATCHED.first() is None:
            break
    return new


def _enrol(workflow, event):
    """Insert the enrolment unless (workflow, event) exists or the contact is in the workflow already."""
    try:
        with db.atomic():
            rows = list(Enrolment.insert(
                workflow=workflow.id, subaccount=workflow.subaccount_id, event=event.id, contact=event.contact_id,
                appointment=event.appointment_id, active_key=matching.active_key(workflow.id, event.contact_id),
                state=EnrolmentState.RUNNING, position=0, started_at=utcnow(),
            ).on_conflict_ignore().returning(Enrolment.id).tuples().execute())
    except IntegrityError:
        return None
    return rows[0][0] if rows else None


# ------------------------------------------------------------------ steps
def _scale():
    return float(current_app.config.get("WORKFLOW_TIME_SCALE", 1.0))


STEP_JOB = "jobs.automation.run_step"
STEP_JOB_PREFIX = "enrolment-"


def step_job_id(enrolment_id, position, attempt=0):
    return f"{STEP_JOB_PREFIX}{enrolment_id}-{position}-{attempt}"


def parse_step_job_id(job_id):
    """(enrolment id, position) of a step job's id."""
    enrolment_id, position, _ = job_id[len(STEP_JOB_PREFIX):].split("-", 2)
    return int(enrolment_id), int(position)


def enqueue_first_steps(enrolment_ids):
    """The first step of each new enrolment, queued in one Redis round trip (a match enrols hundreds)."""
    if not enrolment_ids:
        return
    queue = get_queue(QUEUE)
    if not queue.is_async:  # jobs run inline (tests, RQ_ASYNC off): one by one, as they are enqueued
        for enrolment_id in enrolment_ids:
            enqueue_step(enrolment_id, 0)
        return
    try:
        with queue.connection.pipeline() as pipe:
            queue.enqueue_many([Queue.prepare_data(STEP_JOB, (e, 0), job_id=step_job_id(e, 0), result_ttl=0,
                                                   failure_ttl=86400) for e in enrolment_ids], pipeline=pipe)
            pipe.execute()
    except RedisError as exc:
        log.warning("first steps of %s enrolments not enqueued (%s); resume_due picks them up",
                    len(enrolment_ids), exc)


def enqueue_step(enrolment_id, position, at=None, attempt=0):
    job_id = step_job_id(enrolment_id, position, attempt)
    try:
        queue = get_queue(QUEUE)
        if at is None:
            queue.enqueue(STEP_JOB, enrolment_id, position, job_id=job_id, result_ttl=0, failure_ttl=86400)
        else:
            queue.enqueue_at(at, STEP_JOB, enrolment_id, position, job_id=job_id, result_ttl=0,
                             failure_ttl=86400)
    except RedisError as exc:
        log.warning("step %s of enrolment %s not enqueued (%s); resume_due picks it up", position, enrolment_id, exc)


def _steps(workflow_id):
    return list(WorkflowStep.select().where(WorkflowStep.workflow == workflow_id).order_by(WorkflowStep.position,
                                                                                             WorkflowStep.id))


def run_step(enrolment_id, position):
    """Run step ``position`` of the enrolment if it is the one due; safe to run again."""
    enrolment = Enrolment.get_or_none(Enrolment.id == enrolment_id)
    if enrolment is None or enrolment.state not in ACTIVE or enrolment.position != position:
        return "not due"
    steps = _steps(enrolment.workflow_id)
    if position >= len(steps):
        _finish(enrolment.id, EnrolmentState.DONE)
        return "done"
    step = steps[position]
    run = _step_run(enrolment, step, position)
    if run.state in ("done", "skipped"):  # finished, but the worker died before moving on
        return _advance(enrolment, run, run.state, run.detail, len(steps))
    if step.kind == StepKind.WAIT:
        return _wait(enrolment, step, run, len(steps))
    config = json.loads(step.config or "{}")
    after_commit = []
    try:
        if step.kind == StepKind.SEND_WEBHOOK:  # HTTP outside any transaction; each attempt is logged
            outcome, detail = workflow_actions.send_webhook(config, step, enrolment, run)
            return _advance(enrolment, run, outcome, detail, len(steps))
        with write_transaction(), events.origin_of(Origin.WORKFLOW, f"workflow {enrolment.workflow_id}",
                                                   by_workflow=enrolment.workflow_id):
            if not _still_due(enrolment.id, position):  # another worker ran it meanwhile
                return "not due"
            # The effect and the step's outcome commit together: a killed worker leaves neither.
            outcome, detail = workflow_actions.perform(step.kind, config, step, enrolment, run, after_commit)
            following = _store(enrolment, run, outcome, detail, len(steps))
    except workflow_actions.RetryLater as exc:
        return _failed_attempt(enrolment, run, str(exc))
    except workflow_actions.GiveUp as exc:
        return _failed_attempt(enrolment, run, str(exc), final=True)
    except Exception as exc:  # a step's own error is the enrolment's to show, not the worker's
        log.exception("step %s of enrolment %s failed", position, enrolment_id)
        return _failed_attempt(enrolment, run, f"{exc.__class__.__name__}: {exc}")
    for action in after_commit:
        action()
    _continue(enrolment.id, following)
    return outcome


def _still_due(enrolment_id, position):
    query = Enrolment.select(Enrolment.id).where((Enrolment.id == enrolment_id) & (Enrolment.position == position)
                                                 & Enrolment.state.in_(ACTIVE))
    if db.obj.for_update:
        query = query.for_update()
    return query.exists()


def _step_run(enrolment, step, position):
    StepRun.insert(enrolment=enrolment.id, position=position, kind=step.kind, state="running",
                   started_at=utcnow()).on_conflict_ignore().execute()
    return StepRun.get((StepRun.enrolment == enrolment.id) & (StepRun.position == position))


def _wait(enrolment, step, run, total):
    now = utcnow()
    config = json.loads(step.config or "{}")
    if run.state == "waiting" and run.run_at is not None:
        if run.run_at > now:  # an early or repeated job: the scheduled one ends the wait
            return "waiting"
        return _advance(enrolment, run, "done", f"waited until {localtime.when(run.run_at, localtime.zone_for(subaccount=enrolment.subaccount))}", total)
    appointment = enrolment.appointment
    plan = waits.plan(config, now, appointment.start if appointment else None, _scale())
    if plan.skipped:
        return _advance(enrolment, run, "skipped", plan.skipped, total)
    with write_transaction():
        StepRun.update(state="waiting", run_at=plan.until, detail=waits.describe(config)).where(
            StepRun.id == run.id).execute()
        Enrolment.update(state=EnrolmentState.WAITING).where(Enrolment.id == enrolment.id).execute()
    # Its own job id: the job running now is deleted when it ends (result_ttl=0).
    enqueue_step(enrolment.id, run.position, at=plan.until, attempt="wait")
    return "waiting"


def _advance(enrolment, run, outcome, detail, total):
    with write_transaction():
        following = _store(enrolment, run, outcome, detail, total)
    _continue(enrolment.id, following)
    return outcome


def _store(enrolment, run, outcome, detail, total):
    """The step's outcome and the enrolment's next position, in the caller's transaction; the next position or None."""
    StepRun.update(state=outcome, detail=(detail or "")[:2000], error=None, finished_at=utcnow()).where(
        StepRun.id == run.id).execute()
    moved = Enrolment.update(position=run.position + 1, state=EnrolmentState.RUNNING, error=None).where(
        (Enrolment.id == enrolment.id) & (Enrolment.position == run.position)).execute()
    if not moved:
        return None
    if run.position + 1 >= total:
        _finish(enrolment.id, EnrolmentState.DONE)
        return None
    return run.position + 1


def _continue(enrolment_id, following):
    if following is not None:
        enqueue_step(enrolment_id, following)


def _finish(enrolment_id, state, error=None):
    fields = dict(state=state, error=error, finished_at=utcnow())
    if state == EnrolmentState.DONE:
        fields["active_key"] = None  # the contact may enter this workflow again
    Enrolment.update(**fields).where(Enrolment.id == enrolment_id).execute()


def _failed_attempt(enrolment, run, error, final=False):
    attempts = run.attempts + 1
    limit = 1 if final else int(current_app.config.get("WORKFLOW_STEP_MAX_ATTEMPTS", 4))
    StepRun.update(attempts=attempts, error=error[:2000]).where(StepRun.id == run.id).execute()
    if attempts < limit:
        backoff = float(current_app.config.get("WORKFLOW_RETRY_BACKOFF_SECONDS", 2)) * 2 ** (attempts - 1)
        enqueue_step(enrolment.id, run.position, at=utcnow() + timedelta(seconds=backoff), attempt=f"retry{attempts}")
        return "retrying"
    with write_transaction():
        StepRun.update(state="failed", finished_at=utcnow()).where(StepRun.id == run.id).execute()
        # Failed keeps its active key: the contact is still in the workflow until Retry finishes it.
        Enrolment.update(state=EnrolmentState.FAILED, error=f"Step {run.position + 1}: {error}"[:2000],
                         finished_at=utcnow()).where(Enrolment.id == enrolment.id).execute()
    return "failed"


def retry(enrolment):
    """Resume a Failed enrolment at the step that failed, with fresh attempts; False if it was not Failed."""
    with write_transaction():
        changed = Enrolment.update(state=EnrolmentState.RUNNING, error=None, finished_at=None).where(
            (Enrolment.id == enrolment.id) & (Enrolment.state == EnrolmentState.FAILED)).execute()
        if not changed:
            return False
        StepRun.update(state="running", attempts=0, error=None, finished_at=None).where(
            (StepRun.enrolment == enrolment.id) & (StepRun.position == enrolment.position)).execute()
    enqueue_step(enrolment.id, enrolment.position, attempt=f"manual{int(utcnow().timestamp())}")
    return True


def resume_due(grace_seconds=60):
    """Re-enqueue waits past their moment and steps never started (Redis lost their jobs); returns how many."""
    stale = utcnow() - timedelta(seconds=grace_seconds)
    due = list(StepRun.select(StepRun.enrolment, StepRun.position).join(Enrolment).where(
        (StepRun.state == "waiting") & (StepRun.run_at < stale) & (Enrolment.state == EnrolmentState.WAITING)))
    started = StepRun.select(StepRun.id).where((StepRun.enrolment == Enrolment.id)
                                               & (StepRun.position == Enrolment.position))
    lost = list(Enrolment.select(Enrolment.id, Enrolment.position).where(
        (Enrolment.state == EnrolmentState.RUNNING) & (Enrolment.started_at < stale) & ~fn.EXISTS(started)))
    for enrolment_id, position in [(r.enrolment_id, r.position) for r in due] + [(e.id, e.position) for e in lost]:
        enqueue_step(enrolment_id, position, attempt="resumed")
    if DomainEvent.select().where(DomainEvent.matched_at.is_null()).exists():
        match_pending()
    return len(due) + len(lost)
