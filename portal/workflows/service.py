"""Saving workflows: settings, steps, publishing; every change audited (issue 14)."""
from datetime import timedelta

from peewee import fn

from portal.automation import step_settings
from portal.extensions import db
from portal.models import (
    AppointmentStatus,
    CalendarSelection,
    CalendlyConnection,
    Enrolment,
    EventKind,
    Membership,
    User,
    Workflow,
    WorkflowStatus,
    WorkflowStep,
)
from portal.models.audit import record
from portal.pipeline.workflow_actions import new_secret
from portal.timeutil import utcnow

TRIGGERS = {
    EventKind.APPOINTMENT_BOOKED: "Appointment booked",
    EventKind.STATUS_CHANGED: "Appointment status changed",
    EventKind.CONTACT_CREATED: "Contact created",
    EventKind.ASSIGNED_USER_CHANGED: "Contact assigned user changed",
}
STATUS_LABELS = {s.value: s.label for s in AppointmentStatus}
MAX_STEPS = 30


class Invalid(ValueError):
    pass


def members(subaccount):
    return list(User.select().join(Membership, on=(Membership.user == User.id))
                .where(Membership.subaccount == subaccount).order_by(User.name, User.email))


def calendars(subaccount):
    """(event type URI, name) of the subaccount's Calendly calendars, each once."""
    rows = (CalendarSelection.select(CalendarSelection.event_type_uri, fn.MAX(CalendarSelection.name).alias("name"))
            .join(CalendlyConnection).where(CalendlyConnection.subaccount == subaccount)
            .group_by(CalendarSelection.event_type_uri).order_by(fn.MAX(CalendarSelection.name)))
    return [(r.event_type_uri, r.name) for r in rows]


def create(subaccount, name, actor):
    name = (name or "").strip()[:120]
    if not name:
        raise Invalid("Name: required.")
    with db.atomic():
        workflow = Workflow.create(subaccount=subaccount, name=name)
        record("workflow.create", actor=actor, subaccount=subaccount, target=name)
    return workflow


def update_settings(workflow, form, actor):
    name = (form.get("name") or "").strip()[:120]
    if not name:
        raise Invalid("Name: required.")
    trigger = form.get("trigger")
    if trigger not in TRIGGERS:
        raise Invalid("Trigger: choose one.")
    statuses = [s for s in form.getlist("trigger_statuses") if s in STATUS_LABELS]
    calendar = form.get("filter_calendar") or ""
    known = {uri for uri, _ in calendars(workflow.subaccount_id)} | {"portal"}
    if calendar and calendar not in known:
        raise Invalid("Calendar: choose one of the subaccount's calendars.")
    source = form.get("filter_source") or ""
    if source not in ("", "calendly", "portal"):
        raise Invalid("Source: Calendly or portal.")
    tags = [(form.get(f) or "").strip().lower()[:60] for f in ("filter_has_tag", "filter_not_tag")]
    with db.atomic():
        Workflow.update(name=name, trigger=trigger, trigger_statuses=",".join(statuses), filter_calendar=calendar,
                        filter_source=source, filter_has_tag=tags[0], filter_not_tag=tags[1],
                        updated_at=utcnow()).where(Workflow.id == workflow.id).execute()
        record("workflow.update", actor=actor, subaccount=workflow.subaccount_id, target=name)


def set_status(workflow, status, actor):
    """Publish (from now on: no earlier event enrols), pause, or back to draft."""
    status = WorkflowStatus(status)
    fields = {"status": status, "updated_at": utcnow()}
    if status == WorkflowStatus.PUBLISHED:
        if not workflow.steps.count():
            raise Invalid("Add a step before publishing.")
        fields["published_at"] = utcnow()
    with db.atomic():
        Workflow.update(**fields).where(Workflow.id == workflow.id).execute()
        record(f"workflow.{status.value}", actor=actor, subaccount=workflow.subaccount_id, target=workflow.name)


def steps(workflow):
    return list(workflow.steps.order_by(WorkflowStep.position, WorkflowStep.id))


def add_step(workflow, kind, form, actor, allow_private):
    """Append a step; returns ``(step, secret)`` where ``secret`` is shown once (Send webhook)."""
    if kind not in step_settings.LABELS:
        raise Invalid("Choose a kind of step.")
    existing = steps(workflow)
    if len(existing) >= MAX_STEPS:
        raise Invalid(f"A workflow has at most {MAX_STEPS} steps.")
    member_ids = {u.id for u in members(workflow.subaccount_id)}
    try:
        config = step_settings.parse(kind, form, member_ids=member_ids, allow_private=allow_private)
    except step_settings.InvalidStep as exc:
        raise Invalid(str(exc)) from exc
    secret = new_secret() if kind == "send_webhook" else None
    with db.atomic():
        step = WorkflowStep.create(workflow=workflow, position=len(existing), kind=kind, config=config, secret=secret)
        Workflow.update(updated_at=utcnow()).where(Workflow.id == workflow.id).execute()
        record("workflow.step_add", actor=actor, subaccount=workflow.subaccount_id, target=workflow.name,
               detail=step_settings.LABELS[kind])
    return step, secret


def move_step(workflow, step_id, offset, actor):
    ordered = steps(workflow)
    index = next((i for i, s in enumerate(ordered) if s.id == step_id), None)
    if index is None:
        raise Invalid("No such step.")
    target = index + offset
    if 0 <= target < len(ordered):
        ordered[index], ordered[target] = ordered[target], ordered[index]
    _renumber(workflow, ordered, actor, "workflow.step_move")


def remove_step(workflow, step_id, actor):
    ordered = [s for s in steps(workflow) if s.id != step_id]
    with db.atomic():
        WorkflowStep.delete().where((WorkflowStep.id == step_id) & (WorkflowStep.workflow == workflow.id)).execute()
        _renumber(workflow, ordered, actor, "workflow.step_remove")


def _renumber(workflow, ordered, actor, action):
    with db.atomic():
        for position, step in enumerate(ordered):
            WorkflowStep.update(position=position).where(WorkflowStep.id == step.id).execute()
        record(action, actor=actor, subaccount=workflow.subaccount_id, target=workflow.name)


def listing(subaccount):
    """Workflows with their enrolments in the last 7 days and last run."""
    week = utcnow() - timedelta(days=7)
    rows = []
    for w in Workflow.select().where(Workflow.subaccount == subaccount).order_by(Workflow.name):
        recent = Enrolment.select().where((Enrolment.workflow == w.id) & (Enrolment.started_at >= week)
                                          & (Enrolment.test_run == False)).count()  # noqa: E712
        last = Enrolment.select(fn.MAX(Enrolment.started_at)).where(Enrolment.workflow == w.id).scalar()
        rows.append((w, recent, last))
    return rows
