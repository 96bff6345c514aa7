"""The workflow enrolments a traced booking caused (issue 14): those of its appointment's events, and of the
contacts its deliveries created; support reads each one without entering the subaccount."""
from portal.models import DomainEvent, Enrolment, EventKind, StepRun, Workflow


def caused_by(appointment_ids, contact_ids, delivery_ids, connection_ids=()):
    """Enrolments (with ``workflow`` and ``event`` joined) caused by these appointments, or by the deliveries
    (or a backfill or reconciliation of these connections) that created these contacts; oldest first."""
    if not appointment_ids and not contact_ids:
        return []
    cond = None
    if appointment_ids:
        cond = DomainEvent.appointment.in_(list(appointment_ids))
    causes = [f"delivery {d}" for d in delivery_ids] + [f"connection {c}" for c in connection_ids]
    if contact_ids and causes:
        created = (DomainEvent.contact.in_(list(contact_ids)) & (DomainEvent.kind == EventKind.CONTACT_CREATED)
                   & DomainEvent.cause.in_(causes))
        cond = created if cond is None else cond | created
    if cond is None:
        return []
    return list(Enrolment.select(Enrolment, Workflow, DomainEvent)
                .join(Workflow, on=(Enrolment.workflow == Workflow.id))
                .switch(Enrolment).join(DomainEvent, on=(Enrolment.event == DomainEvent.id))
                .where(cond & (Enrolment.test_run == False))  # noqa: E712 - peewee's SQL comparison
                .order_by(Enrolment.id).limit(200))


def step_runs(enrolment):
    return list(StepRun.select().where(StepRun.enrolment == enrolment.id).order_by(StepRun.position))
