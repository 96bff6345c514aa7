"""Workflows: domain events (the outbox), workflows and their steps, enrolments, and what steps make."""
from enum import StrEnum

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from portal.crypto import EncryptedTextField
from portal.models.base import BaseModel
from portal.models.crm import Appointment, Contact
from portal.models.tenancy import Subaccount, User
from portal.timeutil import utcnow


class EventKind(StrEnum):
    APPOINTMENT_BOOKED = "appointment_booked"
    STATUS_CHANGED = "appointment_status_changed"
    CONTACT_CREATED = "contact_created"
    ASSIGNED_USER_CHANGED = "contact_assigned_user_changed"


class Origin(StrEnum):
    """What made the change an event records."""

    WEBHOOK = "webhook"
    BACKFILL = "backfill"
    RECONCILIATION = "reconciliation"
    PERSON = "person"
    WORKFLOW = "workflow"


class DomainEvent(BaseModel):
    """The transactional outbox: written in the transaction of the change it records (W6: once per change)."""

    subaccount = ForeignKeyField(Subaccount, on_delete="CASCADE")
    kind = CharField()  # an EventKind
    appointment = ForeignKeyField(Appointment, null=True, on_delete="CASCADE")
    contact = ForeignKeyField(Contact, null=True, on_delete="CASCADE")
    from_value = CharField(null=True)  # status or user id before
    to_value = CharField(null=True)  # after
    origin = CharField()  # an Origin
    cause = CharField(default="")  # "delivery 12", "user 3", "workflow 4"
    calendar = CharField(default="")  # the event type URI, "" for portal-made
    # The workflow whose own step made this change (the loop guard).
    by_workflow = IntegerField(null=True)
    starts_workflows = BooleanField(default=True)  # False for a backfill without the connection's switch
    created_at = DateTimeField(default=utcnow)
    matched_at = DateTimeField(null=True, index=True)

    class Meta:
        indexes = ((("subaccount", "created_at"), False),)


class StatusChange(BaseModel):
    """The history of an appointment's status."""

    appointment = ForeignKeyField(Appointment, backref="status_changes", on_delete="CASCADE")
    from_status = CharField()
    to_status = CharField()
    origin = CharField()
    cause = CharField(default="")
    at = DateTimeField(default=utcnow)


class WorkflowStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    PAUSED = "paused"


class Workflow(BaseModel):
    subaccount = ForeignKeyField(Subaccount, backref="workflows", on_delete="CASCADE")
    name = CharField()
    trigger = CharField(default=EventKind.APPOINTMENT_BOOKED)  # an EventKind
    trigger_statuses = CharField(default="")  # comma-separated AppointmentStatus values
    filter_calendar = CharField(default="")  # "" any, "portal", or an event type URI
    filter_source = CharField(default="")  # "" any, "calendly", "portal"
    filter_has_tag = CharField(default="")
    filter_not_tag = CharField(default="")
    status = CharField(default=WorkflowStatus.DRAFT)
    published_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("subaccount", "status"), False),)


class StepKind(StrEnum):
    WAIT = "wait"
    ADD_TAG = "add_tag"
    REMOVE_TAG = "remove_tag"
    ASSIGN = "assign"
    CREATE_TASK = "create_task"
    NOTIFY = "notify"
    SEND_EMAIL = "send_email"
    SEND_WEBHOOK = "send_webhook"


class WorkflowStep(BaseModel):
    workflow = ForeignKeyField(Workflow, backref="steps", on_delete="CASCADE")
    position = IntegerField()
    kind = CharField()  # a StepKind
    config = TextField(default="{}")  # JSON: the step's settings (no secrets)
    secret = EncryptedTextField(null=True)  # the Send webhook signing secret

    class Meta:
        indexes = ((("workflow", "position"), False),)


class EnrolmentState(StrEnum):
    RUNNING = "running"
    WAITING = "waiting"
    DONE = "done"
    FAILED = "failed"


class Enrolment(BaseModel):
    """One workflow run for one event: unique per (workflow, event), one active per (workflow, contact)."""

    workflow = ForeignKeyField(Workflow, backref="enrolments", on_delete="CASCADE")
    subaccount = ForeignKeyField(Subaccount, on_delete="CASCADE")
    event = ForeignKeyField(DomainEvent, null=True, on_delete="CASCADE")
    contact = ForeignKeyField(Contact, null=True, on_delete="CASCADE")
    appointment = ForeignKeyField(Appointment, null=True, on_delete="SET NULL")
    # "workflow:contact" while running or waiting, NULL once ended: the unique index is the guard.
    active_key = CharField(null=True, unique=True)
    state = CharField(default=EnrolmentState.RUNNING)
    position = IntegerField(default=0)  # the next step to run
    test_run = BooleanField(default=False)
    error = TextField(null=True)
    started_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("workflow", "event"), True), (("workflow", "started_at"), False))


class StepRun(BaseModel):
    """One step of one enrolment: its outcome is stored before the next step is enqueued."""

    enrolment = ForeignKeyField(Enrolment, backref="step_runs", on_delete="CASCADE")
    position = IntegerField()
    kind = CharField()
    state = CharField(default="running")  # running | waiting | done | skipped | failed
    detail = TextField(default="")
    error = TextField(null=True)
    attempts = IntegerField(default=0)
    run_at = DateTimeField(null=True)  # a Wait's moment
    started_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("enrolment", "position"), True),)


class WebhookAttempt(BaseModel):
    """Every POST of a Send webhook step, with its answer."""

    step_run = ForeignKeyField(StepRun, backref="webhook_attempts", on_delete="CASCADE")
    url = CharField()
    status_code = IntegerField(null=True)
    duration_ms = IntegerField(default=0)
    error = TextField(null=True)
    at = DateTimeField(default=utcnow)


class ContactTag(BaseModel):
    contact = ForeignKeyField(Contact, backref="tags", on_delete="CASCADE")
    tag = CharField()

    class Meta:
        indexes = ((("contact", "tag"), True), (("tag",), False))


class FollowUpTask(BaseModel):
    """A task for a user about a contact (the Tasks list and "My tasks")."""

    subaccount = ForeignKeyField(Subaccount, on_delete="CASCADE")
    contact = ForeignKeyField(Contact, backref="follow_ups", on_delete="CASCADE")
    assignee = ForeignKeyField(User, null=True, on_delete="SET NULL")
    title = CharField()
    due_at = DateTimeField(null=True)
    done_at = DateTimeField(null=True)
    step_run = ForeignKeyField(StepRun, null=True, unique=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)


class Notification(BaseModel):
    subaccount = ForeignKeyField(Subaccount, on_delete="CASCADE")
    user = ForeignKeyField(User, on_delete="CASCADE")
    text = CharField()
    link = CharField(default="")
    read_at = DateTimeField(null=True)
    step_run = ForeignKeyField(StepRun, null=True, unique=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("user", "read_at"), False),)
